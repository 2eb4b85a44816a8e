/** Bindings of the edge Worker and its Durable Object (see wrangler.toml at the repo root). */
export interface Env {
  /** One broker object per registrable domain of the origins it serves. */
  BROKER: DurableObjectNamespace;
  /** PEM trust anchors for origin certificates: a secret in production (`wrangler secret put TRUST_ANCHORS`), `.dev.vars` locally. */
  TRUST_ANCHORS?: string;
  /**
   * Scheme browser requests are matched against origins with. Cloudflare terminates TLS in front of
   * the Worker, so `https` (the default) treats every request as the https origin it is served as;
   * `as-received` uses the scheme of the request URL.
   */
  ORIGIN_SCHEME?: string;
  /**
   * Broker objects per registrable domain (an integer 1…64, default 1): agents' connections are
   * spread over them and browser requests go to one with a session (shards.ts, docs/edge.md).
   */
  BROKER_SHARDS?: string;
  /** If set, `GET /.rhttp/status` requires `Authorization: Bearer <STATUS_TOKEN>`. */
  STATUS_TOKEN?: string;
}
