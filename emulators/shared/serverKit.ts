import { randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import type { RawData, WebSocketServer } from 'ws';

/** Plumbing every service emulator shares: loopback listen, JSON replies, frames, shutdown. */

export interface Reply {
	status: number;
	body: unknown;
	/** Extra response headers (e.g. `retry-after`). */
	headers?: Record<string, string>;
}

/** Binds to 127.0.0.1 only (these servers are for local tests) and resolves the port (0 = random). */
export function listenOnLoopback(server: Server, port: number): Promise<number> {
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', () => {
			server.off('error', reject);
			const address = server.address();
			resolve(typeof address === 'object' && address !== null ? address.port : port);
		});
	});
}

/** Terminates every socket, then closes the WebSocket and HTTP servers. */
export async function closeServers(wss: WebSocketServer, server: Server): Promise<void> {
	for (const socket of wss.clients) socket.terminate();
	await new Promise<void>((resolve) => wss.close(() => resolve()));
	await new Promise<void>((resolve) => {
		server.close(() => resolve());
		// Keep-alive HTTP connections (e.g. from fetch) would otherwise hold `close` open.
		server.closeAllConnections();
	});
}

/** null for a request target that is not a valid URL path. */
export function parseRequestUrl(rawUrl: string | undefined): URL | null {
	try {
		return new URL(rawUrl ?? '/', 'http://127.0.0.1');
	} catch {
		return null;
	}
}

export function writeReply(res: ServerResponse, reply: Reply): void {
	if (res.destroyed || res.writableEnded) return;
	const text = JSON.stringify(reply.body);
	res.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
	res.end(text);
}

/**
 * Sockets made half-open on purpose (`EmulatorServer.freezeConnections`): the TCP connection stays,
 * but the server reads nothing from it (pings go unanswered) and sends nothing on it.
 */
const frozenSockets = new WeakSet<WebSocket>();

export function freezeSocket(socket: WebSocket): void {
	frozenSockets.add(socket);
	socket.pause();
}

export function isFrozen(socket: WebSocket): boolean {
	return frozenSockets.has(socket);
}

/** Sends on an OPEN socket; a frozen (half-open) socket silently swallows the frame. */
export function sendText(socket: WebSocket, text: string): void {
	if (socket.readyState === WebSocket.OPEN && !frozenSockets.has(socket)) socket.send(text);
}

export function rawDataToText(data: RawData): string {
	if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
	return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}

/** Strictly later than `previous` (and not before now): every step gets its own timestamp. */
export function laterIsoTimestamp(previous: string): string {
	return new Date(Math.max(Date.now(), Date.parse(previous) + 1)).toISOString();
}

export function randomHash(): string {
	return `0x${randomBytes(32).toString('hex')}`;
}

/** For sockets whose late errors are of no interest (an unhandled 'error' would crash the process). */
export function ignoreError(): void {}
