/**
 * Telling an agent it was admitted. On a reversed connection the intermediary checks the agent's
 * certificate and ORIGIN frame before it routes anything, and a refusal is a GOAWAY; but an
 * acceptance has no frame of its own, so the agent could only guess. rhttp's intermediaries send
 * one PING with this opaque data once the session is authorized (a PING is answered by any
 * HTTP/2 peer, so an agent that does not know it loses nothing), and the agent says "connected"
 * when it arrives — or at its first request, whichever comes first.
 */
const ADMITTED = new TextEncoder().encode('rhttp-ok');

/** The PING opaque data (8 octets) an intermediary sends once it has admitted the agent. */
export function admissionPing(): Uint8Array {
  return ADMITTED.slice();
}

/** True for the opaque data of {@link admissionPing}. */
export function isAdmissionPing(opaque: Uint8Array): boolean {
  if (opaque.length !== ADMITTED.length) return false;
  for (let i = 0; i < ADMITTED.length; i++) if (opaque[i] !== ADMITTED[i]) return false;
  return true;
}
