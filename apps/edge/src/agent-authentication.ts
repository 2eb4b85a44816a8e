/** The agent's PTTH request is checked by @rhttp/broker's agent-authentication.ts, shared with the Node intermediary. */
export { AGENT_SIGNATURE_LABEL, AgentRefusal, REQUIRED_SIGNED_COMPONENTS, SIGNATURE_MAX_AGE_SECONDS, authenticateAgent, type AgentCredentials } from '@rhttp/broker';
