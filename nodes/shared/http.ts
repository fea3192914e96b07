import * as http from 'node:http';
import * as https from 'node:https';

import type { Redactor } from './redact';

/**
 * A small JSON-over-HTTP client on Node's http/https modules. The nodes use it rather than n8n's
 * request helpers because its errors are ours to word (redacted: Kurier's key is in the path) and
 * because it behaves the same in n8n 1.x and 2.x, whose helper signatures differ. It goes through
 * Node's global agents, read at each request: that is where n8n installs its proxy agents
 * (HTTP_PROXY / HTTPS_PROXY / NO_PROXY), which Node's fetch would bypass.
 */
export interface JsonRequest {
	method: 'GET' | 'POST';
	url: string;
	body?: unknown;
	headers?: Record<string, string>;
	timeoutMs?: number;
	/** Cancels the request (a trigger being deactivated must not leave a request and its timer behind). */
	signal?: AbortSignal;
}

export interface JsonResponse {
	status: number;
	/** Parsed JSON, or the raw text when the body is not JSON, or null when empty. */
	body: unknown;
	retryAfterMs: number | null;
}

/** The service answered with a non-2xx status. Message and fields are redacted. */
export class ServiceApiError extends Error {
	constructor(
		message: string,
		readonly httpStatus: number,
		readonly serviceCode: string | null,
		readonly retryAfterMs: number | null = null,
	) {
		super(message);
		this.name = 'ServiceApiError';
	}
}

/** The service could not be reached (DNS, refused, reset, timeout). */
export class ServiceUnreachableError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'ServiceUnreachableError';
	}
}

const DEFAULT_TIMEOUT_MS = 30_000;

export async function requestJson(request: JsonRequest, redact: Redactor): Promise<JsonResponse> {
	const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
	const where = () => `${request.method} ${redact(request.url)}`;
	if (request.signal?.aborted) throw new ServiceUnreachableError(`${where()} was cancelled`);
	const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
	const body = request.body === undefined ? undefined : JSON.stringify(request.body);
	if (body !== undefined) {
		headers['content-type'] = 'application/json';
		headers['content-length'] = String(Buffer.byteLength(body));
	}
	return await new Promise<JsonResponse>((resolve, reject) => {
		let settled = false;
		const finish = (outcome: () => void) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			request.signal?.removeEventListener('abort', onAbort);
			outcome();
		};
		const fail = (error: ServiceUnreachableError) => {
			finish(() => reject(error));
			outgoing.destroy();
		};
		const onAbort = () => fail(new ServiceUnreachableError(`${where()} was cancelled`));
		const timer = setTimeout(() => fail(new ServiceUnreachableError(`${where()} got no answer within ${timeoutMs} ms`)), timeoutMs);
		const outgoing = send(request.url, { method: request.method, headers, agent: globalAgentFor(request.url) }, (response) => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('error', (error) => fail(new ServiceUnreachableError(`Could not read the answer to ${where()}: ${redact(networkErrorDetail(error))}`)));
			response.on('end', () =>
				finish(() =>
					resolve({
						status: response.statusCode ?? 0,
						body: parseBody(Buffer.concat(chunks).toString('utf8')),
						retryAfterMs: parseRetryAfter(response.headers['retry-after']),
					}),
				),
			);
		});
		outgoing.on('error', (error) => fail(new ServiceUnreachableError(`Could not reach ${where()}: ${redact(networkErrorDetail(error))}`)));
		request.signal?.addEventListener('abort', onAbort, { once: true });
		outgoing.end(body);
	});
}

function send(url: string, options: http.RequestOptions, onResponse: (response: http.IncomingMessage) => void): http.ClientRequest {
	return url.startsWith('https:') ? https.request(url, options, onResponse) : http.request(url, options, onResponse);
}

/**
 * Node's global agent for the URL's scheme, read now (n8n may replace it after this module loaded).
 * WebSocket connections take it too: `ws` without an agent opens its own connection and skips it.
 */
export function globalAgentFor(url: string): http.Agent {
	return /^(https|wss):/i.test(url) ? https.globalAgent : http.globalAgent;
}

/**
 * Builds the error for a non-2xx answer from the body's `message`/`code` fields, which most
 * services (Fastify-style `{statusCode, code, error, message}` and friends) use.
 */
export function serviceErrorFrom(response: JsonResponse, what: string, redact: Redactor): ServiceApiError {
	const body = isRecord(response.body) ? response.body : {};
	const nested = isRecord(body.error) ? body.error : {};
	const message = firstString(body.message, nested.message, body.error, typeof response.body === 'string' ? response.body.slice(0, 200) : undefined);
	const code = firstString(body.code, nested.code);
	const text = `${what} failed with HTTP ${response.status}${message ? `: ${message}` : ''}`;
	return new ServiceApiError(redact(text), response.status, code ? redact(code) : null, response.retryAfterMs);
}

/**
 * The useful part of a network failure (ECONNREFUSED, ENOTFOUND…): on the error itself, or in
 * `cause` where a wrapper (fetch, a proxy agent) hides it. Duck-typed: errors from Node internals
 * may come from another realm.
 */
function networkErrorDetail(error: unknown): string {
	const own = error as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
	const cause = typeof own?.code === 'string' ? own : own?.cause;
	const code = typeof cause?.code === 'string' ? cause.code : '';
	const message = typeof cause?.message === 'string' ? cause.message : '';
	if (message) return message.includes(code) ? message : `${code} ${message}`.trim();
	if (code) return code;
	return error instanceof Error || typeof (error as { message?: unknown })?.message === 'string' ? String((error as Error).message) : String(error);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstString(...values: unknown[]): string | undefined {
	return values.find((v): v is string => typeof v === 'string' && v.length > 0);
}

function parseBody(text: string): unknown {
	if (text.length === 0) return null;
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return text;
	}
}

/** A `Retry-After` header (seconds or an HTTP date) in milliseconds. */
export function parseRetryAfter(header: string | string[] | null | undefined): number | null {
	const value = Array.isArray(header) ? header[0] : header;
	if (value === undefined || value === null) return null;
	const seconds = Number(value);
	if (value.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
	const date = Date.parse(value);
	return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}
