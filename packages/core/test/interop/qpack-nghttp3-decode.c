/* Decodes a QPACK offline-interop encoded file with nghttp3 (libnghttp3-dev); prints "stream<TAB>name<TAB>value" lines and "stream<TAB>#end" after each section. Used by qpack-nghttp3-interop.test.ts. */
#include <nghttp3/nghttp3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef struct { int64_t id; nghttp3_qpack_stream_context *sctx; const uint8_t *p; size_t len; int done; } pend;

static int decode_stream(nghttp3_qpack_decoder *d, pend *s) {
  for (;;) {
    nghttp3_qpack_nv nv; uint8_t flags = 0;
    nghttp3_ssize n = nghttp3_qpack_decoder_read_request(d, s->sctx, &nv, &flags, s->p, s->len, 1);
    if (n < 0) { fprintf(stderr, "stream %lld: error %s\n", (long long)s->id, nghttp3_strerror((int)n)); exit(2); }
    s->p += n; s->len -= n;
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
      nghttp3_vec name = nghttp3_rcbuf_get_buf(nv.name), value = nghttp3_rcbuf_get_buf(nv.value);
      printf("%lld\t%.*s\t%.*s\n", (long long)s->id, (int)name.len, name.base, (int)value.len, value.base);
      nghttp3_rcbuf_decref(nv.name); nghttp3_rcbuf_decref(nv.value);
      continue;
    }
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) { printf("%lld\t#end\n", (long long)s->id); s->done = 1; return 1; }
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED) return 0;
    if (n == 0) { fprintf(stderr, "stream %lld: no progress\n", (long long)s->id); exit(2); }
  }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s file capacity blocked\n", argv[0]); return 1; }
  FILE *f = fopen(argv[1], "rb"); fseek(f, 0, SEEK_END); long size = ftell(f); fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(size); fread(buf, 1, size, f); fclose(f);
  nghttp3_qpack_decoder *d;
  if (nghttp3_qpack_decoder_new(&d, (size_t)atol(argv[2]), (size_t)atol(argv[3]), nghttp3_mem_default()) != 0) return 1;
  pend *blocked = calloc(100000, sizeof(pend)); size_t nblocked = 0;
  long pos = 0;
  while (pos < size) {
    uint64_t id = 0; for (int i = 0; i < 8; i++) id = (id << 8) | buf[pos + i];
    uint32_t len = ((uint32_t)buf[pos + 8] << 24) | (buf[pos + 9] << 16) | (buf[pos + 10] << 8) | buf[pos + 11];
    pos += 12;
    if (id == 0) {
      nghttp3_ssize n = nghttp3_qpack_decoder_read_encoder(d, buf + pos, len);
      if (n < 0 || (size_t)n != len) { fprintf(stderr, "encoder stream error %s (n=%lld of %u at %ld)\n", nghttp3_strerror((int)n), (long long)n, len, pos); return 2; }
      for (size_t i = 0; i < nblocked; i++) if (!blocked[i].done) decode_stream(d, &blocked[i]);
    } else {
      pend *s = &blocked[nblocked++];
      s->id = (int64_t)id; s->p = buf + pos; s->len = len; s->done = 0;
      nghttp3_qpack_stream_context_new(&s->sctx, (int64_t)id, nghttp3_mem_default());
      decode_stream(d, s);
    }
    pos += len;
  }
  for (size_t i = 0; i < nblocked; i++) if (!blocked[i].done) { fprintf(stderr, "stream %lld still blocked\n", (long long)blocked[i].id); return 3; }
  fprintf(stderr, "ok: %zu sections, insert count %llu\n", nblocked, (unsigned long long)nghttp3_qpack_decoder_get_icnt(d));
  return 0;
}
