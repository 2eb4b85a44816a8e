/**
 * Errors of the DNS layer, in the same layers as the HTTP/2 ones: what was wrong with the bytes
 * (`DnsFormatError`, `SvcbFormatError`), what the server answered (`DnsRcodeError`), how the
 * DoH exchange failed (`DohError`), and what discovery concluded (`DiscoveryError`). Each class
 * carries a stable `code`.
 */

/** Base class of every DNS, DoH and discovery error. */
export class DnsError extends Error {
  /** Stable, machine-readable identifier, e.g. `ERR_DNS_FORMAT`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A DNS message could not be decoded (RFC 1035 §4): truncated, bad name, bad pointer. */
export class DnsFormatError extends DnsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DNS_FORMAT', message, options);
  }
}

/**
 * An SVCB/HTTPS RR (RFC 9460) is malformed. RFC 9460 §2.2: a client receiving one MUST reject
 * the whole RRset, so decoding a message with such an RR fails as a whole.
 */
export class SvcbFormatError extends DnsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SVCB_MALFORMED', message, options);
  }
}

/** The server answered with a non-zero RCODE (RFC 1035 §4.1.1), e.g. NXDOMAIN or SERVFAIL. */
export class DnsRcodeError extends DnsError {
  readonly rcode: number;
  /** The queried name (presentation format, fully qualified). */
  readonly qname: string;
  constructor(rcode: number, rcodeText: string, qname: string, qtypeText: string) {
    super('ERR_DNS_RCODE', `${rcodeText} for ${qname} ${qtypeText}`);
    this.rcode = rcode;
    this.qname = qname;
  }
}

/** The DNS-over-HTTPS exchange failed (RFC 8484): network, HTTP status, content type, timeout. */
export class DohError extends DnsError {
  /** HTTP status when the server answered, else undefined. */
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super('ERR_DOH', message, options);
    this.status = options?.status;
  }
}

/** Discovery (RFC 9460 SVCB at `_http-reverse.<name>`) found no usable intermediary endpoint. */
export class DiscoveryError extends DnsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DISCOVERY', message, options);
  }
}
