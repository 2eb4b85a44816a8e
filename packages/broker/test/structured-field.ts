/** A strict-enough RFC 8941 §4.2.1 List parser for checking Proxy-Status in tests (tokens, strings, integers, booleans). */
export interface SfMember {
  item: string;
  params: Map<string, string | number | boolean>;
}

export function parseSfList(input: string): SfMember[] {
  let i = 0;
  const s = input;
  const fail = (why: string): never => {
    throw new SyntaxError(`structured field: ${why} at ${i} in ${JSON.stringify(s)}`);
  };
  const ows = () => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  const sp = () => {
    while (s[i] === ' ') i++;
  };
  const token = (): string => {
    const m = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*/.exec(s.slice(i));
    if (!m) fail('expected token');
    i += m![0].length;
    return m![0];
  };
  const key = (): string => {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(s.slice(i));
    if (!m) fail('expected key');
    i += m![0].length;
    return m![0];
  };
  const bare = (): string | number | boolean => {
    const c = s[i];
    if (c === '"') {
      i++;
      let out = '';
      for (;;) {
        const ch = s[i++];
        if (ch === undefined) fail('unterminated string');
        if (ch === '\\') {
          const next = s[i++];
          if (next !== '"' && next !== '\\') fail('bad escape');
          out += next;
        } else if (ch === '"') return out;
        else if (ch < ' ' || ch > '~') fail('non-printable in string');
        else out += ch;
      }
    }
    if (c === '?') {
      i++;
      const b = s[i++];
      if (b !== '0' && b !== '1') fail('bad boolean');
      return b === '1';
    }
    if (c !== undefined && /[-0-9]/.test(c)) {
      const m = /^-?\d{1,15}/.exec(s.slice(i));
      if (!m) fail('bad integer');
      i += m![0].length;
      return Number(m![0]);
    }
    return token();
  };
  const members: SfMember[] = [];
  sp();
  if (i === s.length) return members;
  for (;;) {
    const item = bare();
    if (typeof item !== 'string') fail('expected token item');
    const params = new Map<string, string | number | boolean>();
    while (s[i] === ';') {
      i++;
      sp();
      const k = key();
      let v: string | number | boolean = true;
      if (s[i] === '=') {
        i++;
        v = bare();
      }
      params.set(k, v);
    }
    members.push({ item: item as string, params });
    ows();
    if (i === s.length) return members;
    if (s[i] !== ',') fail('expected comma');
    i++;
    ows();
    if (i === s.length) fail('trailing comma');
  }
}
