import { createReadStream, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer, Socket } from 'node:net';

/**
 * Where the workflows' outside effects land during the e2e run and in the sandbox: an HTTP sink (the
 * workflows' "Slack incoming webhook" and "next step" calls) and an SMTP sink (n8n's Send Email node).
 * Both bind 127.0.0.1 and remember what arrived, with the time it arrived.
 */

export interface SinkRequest {
	path: string;
	method: string;
	headers: Record<string, string | string[] | undefined>;
	/** The JSON body, or the raw text where it is not JSON. */
	body: unknown;
	receivedAt: number;
}

export interface SinkMail {
	from: string;
	to: string[];
	subject: string;
	/** The whole message as sent after DATA (headers and body). */
	raw: string;
	/** The body, quoted-printable soft line breaks undone. */
	text: string;
	receivedAt: number;
}

type Listener = () => void;

export class Sink {
	readonly requests: SinkRequest[] = [];
	readonly mails: SinkMail[] = [];
	private readonly listeners = new Set<Listener>();
	/** Downloads the sink serves (GET), by path: bytes in memory or a file streamed from disk. */
	private readonly files = new Map<string, { content: Buffer | string; contentType: string; fileName: string }>();

	private readonly http: HttpServer;
	private readonly smtp: TcpServer;
	httpPort = 0;
	smtpPort = 0;

	private constructor() {
		this.http = createHttpServer((req, res) => {
			const file = req.method === 'GET' ? this.files.get(req.url ?? '') : undefined;
			if (file) {
				const length = typeof file.content === 'string' ? statSync(file.content).size : file.content.length;
				res.writeHead(200, { 'content-type': file.contentType, 'content-length': length, 'content-disposition': `attachment; filename="${file.fileName}"` });
				if (typeof file.content === 'string') createReadStream(file.content).pipe(res);
				else res.end(file.content);
				return;
			}
			const chunks: Buffer[] = [];
			req.on('data', (chunk: Buffer) => chunks.push(chunk));
			req.on('end', () => {
				const text = Buffer.concat(chunks).toString('utf8');
				this.requests.push({ path: req.url ?? '/', method: req.method ?? 'GET', headers: req.headers, body: parseJson(text), receivedAt: Date.now() });
				res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
				this.notify();
			});
		});
		this.smtp = createTcpServer((socket) =>
			serveSmtp(socket, (mail) => {
				this.mails.push(mail);
				this.notify();
			}),
		);
	}

	static async start(ports: { http?: number; smtp?: number } = {}): Promise<Sink> {
		const sink = new Sink();
		sink.httpPort = await listen(sink.http, ports.http ?? 0);
		sink.smtpPort = await listen(sink.smtp, ports.smtp ?? 0);
		return sink;
	}

	private notify(): void {
		for (const listener of this.listeners) listener();
	}

	url(path: string): string {
		return `http://127.0.0.1:${this.httpPort}${path.startsWith('/') ? path : `/${path}`}`;
	}

	/** Serves a download at `path` (a file to fetch, as from a CDN or a drive): bytes, or a file path streamed from disk. */
	serveFile(path: string, content: Buffer | string, fileName: string, contentType = 'audio/mpeg'): string {
		this.files.set(path, { content, contentType, fileName });
		return this.url(path);
	}

	requestsTo(path: string): SinkRequest[] {
		return this.requests.filter((request) => request.path === path);
	}

	/** Resolves once `condition` holds (checked at every arrival), rejects after `timeoutMs` with `what`. */
	async waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
		if (condition()) return;
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.listeners.delete(check);
				reject(new Error(`sink: timed out after ${timeoutMs} ms waiting for ${what}`));
			}, timeoutMs);
			const check = () => {
				if (!condition()) return;
				clearTimeout(timer);
				this.listeners.delete(check);
				resolve();
			};
			this.listeners.add(check);
		});
	}

	/** Called after every arrival (HTTP request or mail); returns the unsubscribe function. */
	onArrival(listener: () => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	async close(): Promise<void> {
		this.listeners.clear();
		this.http.closeAllConnections();
		await Promise.all([new Promise((resolve) => this.http.close(resolve)), new Promise((resolve) => this.smtp.close(resolve))]);
	}
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}

async function listen(server: HttpServer | TcpServer, port: number): Promise<number> {
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', () => resolve());
	});
	const address = server.address();
	if (address === null || typeof address === 'string') throw new Error('sink: no TCP address');
	return address.port;
}

/**
 * Just enough SMTP (RFC 5321) for nodemailer without auth or TLS: greeting, EHLO/HELO, MAIL, RCPT,
 * DATA up to the lone ".", RSET, NOOP, QUIT. No STARTTLS and no AUTH are offered, so none is tried.
 */
function serveSmtp(socket: Socket, onMail: (mail: SinkMail) => void): void {
	let buffer = '';
	let from = '';
	let to: string[] = [];
	let data: string[] | null = null;
	const reply = (line: string) => socket.write(`${line}\r\n`);
	socket.setEncoding('utf8');
	socket.on('error', () => socket.destroy());
	reply('220 sink.local ESMTP e2e sink');
	socket.on('data', (chunk: string) => {
		buffer += chunk;
		let newline: number;
		while ((newline = buffer.indexOf('\r\n')) >= 0) {
			const line = buffer.slice(0, newline);
			buffer = buffer.slice(newline + 2);
			if (data) {
				if (line === '.') {
					const raw = data.join('\r\n');
					const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
					// Quoted-printable: =XX are bytes of UTF-8 text.
					const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
					const text = Buffer.from(bytes, 'latin1').toString('utf8');
					onMail({ from, to, subject: /^Subject: (.*)$/im.exec(raw)?.[1] ?? '', raw, text, receivedAt: Date.now() });
					data = null;
					from = '';
					to = [];
					reply('250 OK queued');
				} else data.push(line.startsWith('..') ? line.slice(1) : line);
				continue;
			}
			const verb = line.slice(0, 4).toUpperCase();
			if (verb === 'EHLO') socket.write('250-sink.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n');
			else if (verb === 'HELO') reply('250 sink.local');
			else if (verb === 'MAIL') {
				from = /<([^>]*)>/.exec(line)?.[1] ?? '';
				reply('250 OK');
			} else if (verb === 'RCPT') {
				to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
				reply('250 OK');
			} else if (verb === 'DATA') {
				data = [];
				reply('354 End data with <CR><LF>.<CR><LF>');
			} else if (verb === 'RSET') {
				from = '';
				to = [];
				reply('250 OK');
			} else if (verb === 'NOOP') reply('250 OK');
			else if (verb === 'QUIT') {
				reply('221 Bye');
				socket.end();
			} else reply('502 Command not implemented');
		}
	});
}
