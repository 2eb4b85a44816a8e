export { connectWebStreams, type ByteDuplex } from './web-streams.js';
export { connectSocket, type NodeStyleSocket } from './socket.js';
