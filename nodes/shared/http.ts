import type { Redactor } from './redact';

/**
 * A small JSON-over-HTTP client on Node's own fetch. The nodes use it rather than n8n's request
 * helpers because its errors are ours to word (redacted: Kurier's key is in the path) and because it
 * behaves the same in n8n 1.x and 2.x, whose helper signatures differ.
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
	const controller = new AbortController();
	const timer = setTimeout(() => controller.abort(), timeoutMs);
	const cancel = () => controller.abort();
	request.signal?.addEventListener('abort', cancel, { once: true });
	if (request.signal?.aborted) cancel();
	const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
	if (request.body !== undefined) headers['content-type'] = 'application/json';
	try {
		const response = await fetch(request.url, {
			method: request.method,
			headers,
			body: request.body === undefined ? undefined : JSON.stringify(request.body),
			signal: controller.signal,
		});
		const text = await response.text();
		return {
			status: response.status,
			body: parseBody(text),
			retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
		};
	} catch (error) {
		const where = `${request.method} ${redact(request.url)}`;
		if (request.signal?.aborted) throw new ServiceUnreachableError(`${where} was cancelled`);
		if (controller.signal.aborted) {
			throw new ServiceUnreachableError(`${where} got no answer within ${timeoutMs} ms`);
		}
		throw new ServiceUnreachableError(`Could not reach ${where}: ${redact(networkErrorDetail(error))}`);
	} finally {
		clearTimeout(timer);
		request.signal?.removeEventListener('abort', cancel);
	}
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
 * fetch reports every network failure as "fetch failed" and hides the useful part (ECONNREFUSED,
 * ENOTFOUND…) in `cause`. Duck-typed: errors from Node internals may come from another realm.
 */
function networkErrorDetail(error: unknown): string {
	const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
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
