import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

import { freePort } from './processes';

/**
 * A forward proxy on 127.0.0.1, the kind HTTP_PROXY / HTTPS_PROXY name: plain requests with an
 * absolute URL, WebSocket upgrades with an absolute URL, and CONNECT tunnels. It counts what went
 * through it per target port, so a test can compare with what each emulator saw arrive.
 */
export interface ProxiedTraffic {
	requests: number;
	upgrades: number;
	tunnels: number;
}

export class ForwardProxy {
	readonly byPort = new Map<number, ProxiedTraffic>();
	private readonly sockets = new Set<Socket>();

	private constructor(
		private readonly server: Server,
		readonly port: number,
	) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	static async start(): Promise<ForwardProxy> {
		const server = createServer();
		const port = await freePort();
		const proxy = new ForwardProxy(server, port);
		server.on('request', (req, res) => {
			const target = new URL(req.url ?? '/');
			proxy.count(Number(target.port), 'requests');
			const outgoing = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: `${target.pathname}${target.search}`, headers: req.headers }, (answer) => {
				res.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(res);
			});
			outgoing.on('error', () => res.writeHead(502).end());
			req.pipe(outgoing);
		});
		server.on('upgrade', (req, client: Socket, head: Buffer) => {
			const target = new URL(req.url ?? '/');
			proxy.count(Number(target.port), 'upgrades');
			proxy.tunnel(client, Number(target.port), target.hostname, (upstream) => {
				const headers = Object.entries(req.headers).flatMap(([name, value]) => (Array.isArray(value) ? value.map((v) => `${name}: ${v}`) : [`${name}: ${value ?? ''}`]));
				upstream.write(`${req.method} ${target.pathname}${target.search} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
				if (head.length > 0) upstream.write(head);
			});
		});
		server.on('connect', (req, client: Socket, head: Buffer) => {
			const [host, port] = (req.url ?? '').split(':');
			proxy.count(Number(port), 'tunnels');
			proxy.tunnel(client, Number(port), host, (upstream) => {
				client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
				if (head.length > 0) upstream.write(head);
			});
		});
		await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
		return proxy;
	}

	traffic(port: number): ProxiedTraffic {
		return this.byPort.get(port) ?? { requests: 0, upgrades: 0, tunnels: 0 };
	}

	async close(): Promise<void> {
		for (const socket of this.sockets) socket.destroy();
		this.server.closeAllConnections();
		await new Promise((resolve) => this.server.close(resolve));
	}

	private count(port: number, kind: keyof ProxiedTraffic): void {
		const traffic = this.traffic(port);
		traffic[kind] += 1;
		this.byPort.set(port, traffic);
	}

	private tunnel(client: Socket, port: number, host: string, onOpen: (upstream: Socket) => void): void {
		const upstream = connect(port, host, () => {
			onOpen(upstream);
			upstream.pipe(client);
			client.pipe(upstream);
		});
		for (const socket of [client, upstream]) {
			this.sockets.add(socket);
			socket.on('error', () => {
				client.destroy();
				upstream.destroy();
			});
			socket.on('close', () => this.sockets.delete(socket));
		}
	}
}
