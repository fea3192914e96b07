/**
 * The shared reconnecting socket, against a real WebSocket server on 127.0.0.1 whose behaviour each
 * test scripts (the service emulators exercise it end to end in the node tests).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';

import { ReconnectingSocket, SocketFatalError } from '../nodes/shared/ReconnectingSocket';
import type { ReconnectingSocketOptions, SocketListener } from '../nodes/shared/ReconnectingSocket';
import { createRedactor } from '../nodes/shared/redact';
import { CapturingLogger } from './helpers/logs';
import { activeTimerCount, eventually } from './helpers/wait';

const SECRET = 'sk_live_transport_secret_123';

interface ScriptedServer {
	url: string;
	port: number;
	sockets: Set<WebSocket>;
	connections: IncomingMessage[];
	/** Answer the next upgrades with an HTTP status instead of a WebSocket. */
	refuseWith: { status: number; headers?: Record<string, string> } | null;
	onConnection: (ws: WebSocket) => void;
	close(): Promise<void>;
}

async function startServer(options: { autoPong?: boolean } = {}): Promise<ScriptedServer> {
	const http: Server = createServer();
	const wss = new WebSocketServer({ noServer: true, autoPong: options.autoPong ?? true });
	const server: ScriptedServer = {
		url: '',
		port: 0,
		sockets: new Set(),
		connections: [],
		refuseWith: null,
		onConnection: (ws) => ws.send(JSON.stringify({ type: 'connected' })),
		close: async () => {
			for (const ws of server.sockets) ws.terminate();
			await new Promise<void>((resolve) => wss.close(() => resolve()));
			http.closeAllConnections();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		},
	};
	http.on('upgrade', (request, socket, head) => {
		server.connections.push(request);
		if (server.refuseWith) {
			const headers = Object.entries(server.refuseWith.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
			socket.end(`HTTP/1.1 ${server.refuseWith.status} Refused\r\n${headers}Content-Length: 0\r\nConnection: close\r\n\r\n`);
			return;
		}
		wss.handleUpgrade(request, socket, head, (ws) => {
			server.sockets.add(ws);
			ws.on('close', () => server.sockets.delete(ws));
			server.onConnection(ws);
		});
	});
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	server.port = (http.address() as AddressInfo).port;
	server.url = `ws://127.0.0.1:${server.port}/ws?apiKey=${SECRET}`;
	return server;
}

function socketFor(server: ScriptedServer, overrides: Partial<ReconnectingSocketOptions> = {}) {
	const logger = new CapturingLogger();
	const socket = new ReconnectingSocket({
		url: server.url,
		redact: createRedactor([SECRET]),
		logger,
		backoff: { initialMs: 40, maxMs: 400, factor: 2 },
		random: () => 0.5,
		isReadyFrame: (frame) => (frame as { type?: string }).type === 'connected',
		...overrides,
	});
	return { socket, logger };
}

function recorder() {
	const events: string[] = [];
	const frames: unknown[] = [];
	const fatals: SocketFatalError[] = [];
	const listener: SocketListener = {
		onReady: (c) => {
			events.push(c.reconnected ? 'reconnected' : 'connected');
			c.send({ type: 'subscribe' });
		},
		onFrame: (f) => frames.push(f),
		onDisconnect: () => events.push('disconnected'),
		onFatal: (e) => fatals.push(e),
	};
	return { events, frames, fatals, listener };
}

let server: ScriptedServer;

afterEach(async () => {
	await server?.close();
});

test('connects with URL and header auth, subscribes on ready, and delivers parsed JSON frames', async () => {
	server = await startServer();
	const received: unknown[] = [];
	server.onConnection = (ws) => {
		ws.on('message', (data) => received.push(JSON.parse(data.toString())));
		ws.send(JSON.stringify({ type: 'connected' }));
		ws.send(JSON.stringify({ type: 'update', n: 1 }));
	};
	const { socket } = socketFor(server, { headers: { 'x-ws-token': SECRET } });
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	expect(server.connections[0].headers['x-ws-token']).toBe(SECRET);
	await eventually(() => expect(r.frames).toContainEqual({ type: 'update', n: 1 }));
	await eventually(() => expect(received).toEqual([{ type: 'subscribe' }]));
	expect(r.events).toEqual(['connected']);
	await socket.close();
});

test('malformed frames are logged (redacted) and skipped; the connection stays up', async () => {
	server = await startServer();
	server.onConnection = (ws) => {
		ws.send(JSON.stringify({ type: 'connected' }));
		ws.send(`{not json, key=${SECRET}`);
		ws.send(JSON.stringify({ type: 'after' }));
	};
	const { socket, logger } = socketFor(server);
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	await eventually(() => expect(r.frames).toContainEqual({ type: 'after' }));
	expect(socket.stats.malformedFrames).toBe(1);
	expect(logger.messages('warn').some((m) => m.includes('not JSON'))).toBe(true);
	expect(logger.text()).not.toContain(SECRET);
	expect(socket.state).toBe('open');
	await socket.close();
});

test('listeners see frames that are not JSON through onUnparsedFrame', async () => {
	server = await startServer();
	server.onConnection = (ws) => {
		ws.send(JSON.stringify({ type: 'connected' }));
		ws.send('Unauthorized');
	};
	const { socket } = socketFor(server);
	const texts: string[] = [];
	socket.addListener({ onUnparsedFrame: (text) => texts.push(text) });
	await socket.start();
	await eventually(() => expect(texts).toEqual(['Unauthorized']));
	await socket.close();
});

test('a listener that throws does not stop the others or the connection', async () => {
	server = await startServer();
	const { socket, logger } = socketFor(server);
	const r = recorder();
	socket.addListener({ onFrame: () => { throw new Error(`boom ${SECRET}`); } });
	socket.addListener(r.listener);
	await socket.start();
	await eventually(() => expect(r.frames).toHaveLength(1));
	expect(logger.messages('error').join()).toContain('boom [redacted]');
	await socket.close();
});

test('reconnects after a drop and calls onReady again with reconnected = true', async () => {
	server = await startServer();
	const { socket } = socketFor(server);
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	for (const ws of server.sockets) ws.terminate();
	await eventually(() => expect(r.events).toEqual(['connected', 'disconnected', 'reconnected']));
	expect(socket.stats.reconnects).toBe(1);
	expect(server.connections).toHaveLength(2);
	await socket.close();
});

test('backoff grows exponentially while the server stays away, capped at maxMs, with jitter', async () => {
	server = await startServer();
	const delays: number[] = [];
	const { socket } = socketFor(server, { backoff: { initialMs: 20, maxMs: 100, factor: 2 }, random: () => 1 });
	socket.addListener({ onDisconnect: (info) => delays.push(info.delayMs ?? -1) });
	await socket.start();
	server.refuseWith = { status: 502 };
	for (const ws of server.sockets) ws.terminate();
	await eventually(() => expect(delays.length).toBeGreaterThanOrEqual(5));
	expect(delays.slice(0, 5)).toEqual([20, 40, 80, 100, 100]);
	await socket.close();
});

test('close code 1008 (credentials refused) is one fatal error and no reconnect', async () => {
	server = await startServer();
	const { socket } = socketFor(server);
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	for (const ws of server.sockets) ws.close(1008, 'Unauthorized');
	await eventually(() => expect(r.fatals).toHaveLength(1));
	expect(r.fatals[0].kind).toBe('auth');
	expect(r.fatals[0].message).toContain('1008');
	await new Promise((resolve) => setTimeout(resolve, 300));
	expect(server.connections).toHaveLength(1);
	expect(socket.state).toBe('closed');
});

test('a refused key at start rejects start() with a clear, redacted error and never retries', async () => {
	server = await startServer();
	server.onConnection = (ws) => ws.close(1008, 'Unauthorized');
	const { socket } = socketFor(server);
	const error = await socket.start().then(() => null, (e: unknown) => e as SocketFatalError);
	expect(error).toBeInstanceOf(SocketFatalError);
	expect(error?.kind).toBe('auth');
	expect(error?.message).not.toContain(SECRET);
	await new Promise((resolve) => setTimeout(resolve, 200));
	expect(server.connections).toHaveLength(1);
});

test('HTTP 401 on the upgrade is an auth failure', async () => {
	server = await startServer();
	server.refuseWith = { status: 401 };
	const { socket } = socketFor(server);
	const error = (await socket.start().catch((e: unknown) => e)) as SocketFatalError;
	expect(error.kind).toBe('auth');
	expect(error.httpStatus).toBe(401);
	expect(error.message).toContain('[redacted]');
	expect(error.message).not.toContain(SECRET);
});

test('an unreachable host fails start() with the redacted URL', async () => {
	server = await startServer();
	const url = server.url;
	await server.close();
	const { socket } = socketFor({ ...server, url });
	const error = (await socket.start().catch((e: unknown) => e)) as SocketFatalError;
	expect(error.kind).toBe('unreachable');
	expect(error.message).toMatch(/ECONNREFUSED/);
	expect(error.message).toContain('apiKey=[redacted]');
	expect(error.message).not.toContain(SECRET);
	server = await startServer();
});

test("a server's Retry-After on the upgrade delays the next reconnect at least that long", async () => {
	server = await startServer();
	const { socket } = socketFor(server);
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	server.refuseWith = { status: 503, headers: { 'Retry-After': '1' } };
	for (const ws of server.sockets) ws.terminate();
	await eventually(() => expect(server.connections.length).toBe(2));
	const refusedAt = Date.now();
	server.refuseWith = null;
	await eventually(() => expect(r.events).toContain('reconnected'), 3000);
	expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(950);
	await socket.close();
});

test('retryAfter() from a listener delays the next reconnect', async () => {
	server = await startServer();
	const { socket } = socketFor(server);
	const delays: number[] = [];
	socket.addListener({ onDisconnect: (info) => delays.push(info.delayMs ?? -1) });
	await socket.start();
	socket.retryAfter(700);
	for (const ws of server.sockets) ws.terminate();
	await eventually(() => expect(delays).toHaveLength(1));
	expect(delays[0]).toBe(700);
	await socket.close();
});

test('keep-alive declares a silent connection dead and reconnects', async () => {
	server = await startServer({ autoPong: false });
	const { socket } = socketFor(server, { keepAlive: { intervalMs: 50, timeoutMs: 50 } });
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	await eventually(() => expect(r.events).toContain('reconnected'), 2000);
	await socket.close();
});

test('keep-alive with an application ping frame stays connected while the server answers', async () => {
	server = await startServer();
	server.onConnection = (ws) => {
		ws.send(JSON.stringify({ type: 'connected' }));
		ws.on('message', (data) => {
			if (JSON.parse(data.toString()).type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
		});
	};
	const { socket } = socketFor(server, { keepAlive: { intervalMs: 30, timeoutMs: 60, pingFrame: { type: 'ping' } } });
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	await new Promise((resolve) => setTimeout(resolve, 300));
	expect(r.frames.filter((f) => (f as { type: string }).type === 'pong').length).toBeGreaterThan(3);
	expect(r.events).toEqual(['connected']);
	await socket.close();
});

test('no ready frame within the connect timeout counts as a failed attempt', async () => {
	server = await startServer();
	server.onConnection = () => undefined; // never says "connected"
	const { socket } = socketFor(server, { connectTimeoutMs: 100 });
	const error = (await socket.start().catch((e: unknown) => e)) as SocketFatalError;
	expect(error.kind).toBe('unreachable');
	expect(error.message).toContain('no answer within 100 ms');
});

test('close() cancels every timer and socket at once, also while waiting to reconnect, and is idempotent', async () => {
	server = await startServer();
	const timersBefore = activeTimerCount();
	const { socket } = socketFor(server, { keepAlive: { intervalMs: 20, timeoutMs: 1000 }, backoff: { initialMs: 5000 } });
	const r = recorder();
	socket.addListener(r.listener);
	await socket.start();
	// The keep-alive's interval is running.
	expect(activeTimerCount()).toBeGreaterThan(timersBefore);
	await socket.close();
	await socket.close();
	expect(socket.state).toBe('closed');
	await eventually(() => expect(server.sockets.size).toBe(0));
	await eventually(() => expect(activeTimerCount()).toBe(timersBefore));

	const { socket: waiting } = socketFor(server, { backoff: { initialMs: 5000 } });
	const w = recorder();
	waiting.addListener(w.listener);
	await waiting.start();
	for (const ws of server.sockets) ws.terminate();
	await eventually(() => expect(waiting.state).toBe('waiting'));
	await waiting.close();
	// The cancelled reconnect was due in 3.75 s, past this wait: only its cancellation passes.
	await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
	expect(server.connections).toHaveLength(2);
});
