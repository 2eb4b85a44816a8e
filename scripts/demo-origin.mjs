/**
 * The demo origin for `npm start`: a tiny app on 127.0.0.1 that nobody outside can reach. It shows
 * what arrived through the tunnel (headers the intermediary added), streams Server-Sent Events,
 * and echoes POST bodies.
 */
import http from 'node:http';

const page = (req) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rhttp demo origin</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f4f4f4;padding:.1rem .3rem}pre{padding:.6rem;overflow:auto}</style></head>
<body>
<h1>Hello through rhttp</h1>
<p>This page comes from a demo origin on <code>127.0.0.1</code> that only dialed <em>out</em> to the
intermediary. Your request travelled browser → intermediary → reversed HTTP/2 over TLS (<code>h2-reverse</code>) → agent → this app.</p>
<h2>Your request as the origin saw it</h2>
<pre id="headers">${escapeHtml(`${req.method} ${req.url} HTTP/${req.httpVersion}\n${Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}`)}</pre>
<h2>Server-Sent Events through the tunnel</h2>
<pre id="events">waiting…</pre>
<script>
const out = document.getElementById('events'); out.textContent = '';
const es = new EventSource('/events');
es.onmessage = (e) => { out.textContent += e.data + '\\n'; };
</script>
</body></html>`;

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

export function createDemoOrigin() {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    if (url.pathname === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const tick = () => res.write(`data: event ${++n} at ${new Date().toISOString()}\n\n`);
      tick();
      const timer = setInterval(() => (n >= 30 ? (clearInterval(timer), res.end()) : tick()), 1000);
      req.on('close', () => clearInterval(timer));
      return;
    }
    if (req.method === 'POST' || req.method === 'PUT') {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page(req));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`not found: ${url.pathname}\n`);
  });
}
