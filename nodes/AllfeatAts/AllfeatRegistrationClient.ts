import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import type { z } from 'zod/v4';

import { ServiceApiError, ServiceUnreachableError, globalAgentFor, parseRetryAfter, requestJson } from '../shared/http';
import type { JsonResponse } from '../shared/http';
import type { Redactor } from '../shared/redact';
import { READABLE_ISSUES, describeIssue } from '../shared/validation';
import type { ApiCreator, ConfirmAnswer, InitAnswer, Quote } from './registrationProtocol';
import { REGISTRATION_CODES, confirmAnswerSchema, describeFieldErrors, errorEnvelopeSchema, initAnswerSchema, quoteSchema } from './registrationProtocol';

/** An answer of the registration API with its error envelope: code, request id and details kept apart. */
export class AllfeatRegistrationError extends ServiceApiError {
	constructor(
		message: string,
		httpStatus: number,
		serviceCode: string | null,
		readonly requestId: string | null,
		readonly details: Record<string, unknown>,
		readonly hint: string | undefined,
		retryAfterMs: number | null,
	) {
		super(message, httpStatus, serviceCode, retryAfterMs);
		this.name = 'AllfeatRegistrationError';
	}
}

export interface RegistrationBody {
	network: string;
	creators: ApiCreator[];
	title?: string;
	filename?: string;
	external_user_ref?: string;
}

export interface UploadSource {
	/** Opens the audio as a stream (from n8n's binary data store, or memory). */
	open(): Promise<Readable>;
	sizeBytes: number;
	contentType: string;
}

/** Calls of the registration routes (`/v1/organizations/{org}/works/…`) with the organization key. */
export class AllfeatRegistrationClient {
	constructor(
		private readonly baseUrl: string,
		private readonly apiKey: string,
		private readonly organizationId: string,
		private readonly redact: Redactor,
		private readonly timeoutMs = 30_000,
		/** The upload fails when no byte moves for this long (not a limit on the whole upload). */
		private readonly uploadIdleTimeoutMs = 120_000,
	) {}

	private worksUrl(path: string): string {
		return `${this.baseUrl}/v1/organizations/${encodeURIComponent(this.organizationId)}/works${path}`;
	}

	private versionsUrl(workId: string, action: string): string {
		return this.worksUrl(`/${encodeURIComponent(workId)}/versions/${action}`);
	}

	async initWork(body: RegistrationBody, idempotencyKey: string): Promise<InitAnswer> {
		return await this.post(this.worksUrl('/init'), body, 'init', initAnswerSchema, { 'idempotency-key': idempotencyKey });
	}

	/** `init` (keep the registered file, no upload) or `init-upload` (a new file). */
	async initVersion(workId: string, body: RegistrationBody, newFile: boolean, idempotencyKey: string): Promise<InitAnswer> {
		const action = newFile ? 'init-upload' : 'init';
		return await this.post(this.versionsUrl(workId, action), body, `versions/${action}`, initAnswerSchema, { 'idempotency-key': idempotencyKey });
	}

	async prepare(jobId: string, workId?: string): Promise<Quote> {
		const url = workId === undefined ? this.worksUrl('/prepare') : this.versionsUrl(workId, 'prepare');
		return await this.post(url, { job_id: jobId }, workId === undefined ? 'prepare' : 'versions/prepare', quoteSchema);
	}

	async confirm(jobId: string, workId?: string): Promise<ConfirmAnswer> {
		const url = workId === undefined ? this.worksUrl('/confirm') : this.versionsUrl(workId, 'confirm');
		return await this.post(url, { job_id: jobId }, workId === undefined ? 'confirm' : 'versions/confirm', confirmAnswerSchema);
	}

	/** The credential test's call: `prepare` of a job id no job has (404 means key, organization and scope are good). */
	async probePrepare(jobId: string): Promise<JsonResponse> {
		return await this.send(this.worksUrl('/prepare'), { job_id: jobId }, 'prepare');
	}

	/**
	 * PUT of the audio to the presigned URL, streamed with its length, without Authorization (the
	 * URL is the credential, so it is never named in messages either).
	 */
	async upload(uploadUrl: string, source: UploadSource, signal?: AbortSignal): Promise<void> {
		const what = 'Uploading the audio to Allfeat';
		// Cancelled before it began: nothing is opened or sent (as requestJson does).
		if (signal?.aborted) throw new ServiceUnreachableError(`${what}: cancelled`);
		const stream = await source.open();
		const response = await new Promise<JsonResponse>((resolve, reject) => {
			let settled = false;
			const finish = (outcome: () => void) => {
				if (settled) return;
				settled = true;
				signal?.removeEventListener('abort', onAbort);
				outcome();
			};
			const fail = (message: string) => {
				finish(() => reject(new ServiceUnreachableError(`${what}: ${this.redact(message)}`)));
				stream.destroy();
				request.destroy();
			};
			const onAbort = () => fail('cancelled');
			const url = new URL(uploadUrl);
			const send = url.protocol === 'https:' ? https.request : http.request;
			const request = send(
				url,
				{
					method: 'PUT',
					headers: { 'content-type': source.contentType, 'content-length': String(source.sizeBytes) },
					agent: globalAgentFor(uploadUrl),
				},
				(res) => {
					const chunks: Buffer[] = [];
					res.on('data', (chunk: Buffer) => chunks.push(chunk));
					res.on('error', (error) => fail(`could not read the answer (${error.message})`));
					res.on('end', () => {
						const text = Buffer.concat(chunks).toString('utf8');
						let body: unknown = text;
						try {
							body = text ? (JSON.parse(text) as unknown) : null;
						} catch {
							// An object store answers XML or text: kept as text.
						}
						finish(() => resolve({ status: res.statusCode ?? 0, body, retryAfterMs: parseRetryAfter(res.headers['retry-after']) }));
						// A server that answers before reading the whole body (a refusal) gets no more of it.
						if (!stream.readableEnded) {
							stream.destroy();
							request.destroy();
						}
					});
				},
			);
			request.setTimeout(this.uploadIdleTimeoutMs, () => fail(`no progress for ${Math.round(this.uploadIdleTimeoutMs / 1000)} s`));
			request.on('error', (error) => fail(`could not reach the upload URL (${error.message})`));
			stream.on('error', (error) => fail(`could not read the binary data (${error.message})`));
			signal?.addEventListener('abort', onAbort, { once: true });
			stream.pipe(request);
		});
		if (response.status < 200 || response.status >= 300) throw this.errorFrom(response, 'upload');
	}

	private async post<T>(url: string, body: unknown, step: string, schema: z.ZodType<T>, headers: Record<string, string> = {}): Promise<T> {
		const response = await this.send(url, body, step, headers);
		if (response.status < 200 || response.status >= 300) throw this.errorFrom(response, step);
		const parsed = schema.safeParse(response.body, READABLE_ISSUES);
		if (parsed.success) return parsed.data;
		throw new ServiceApiError(
			`Allfeat ATS ${step}: the service answered with an unexpected body (${describeIssue(parsed.error.issues[0], 'body', ': ')})`,
			response.status,
			null,
		);
	}

	private async send(url: string, body: unknown, step: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
		return await requestJson({ method: 'POST', url, body, headers: { ...headers, authorization: `Bearer ${this.apiKey}` }, timeoutMs: this.timeoutMs }, this.redact).catch(
			(error: Error) => {
				error.message = `Allfeat ATS ${step}: ${error.message}`;
				throw error;
			},
		);
	}

	/** The envelope as an error naming the step, the code's meaning, the code and the request id. */
	errorFrom(response: JsonResponse, step: string): AllfeatRegistrationError {
		const parsed = errorEnvelopeSchema.safeParse(response.body);
		if (!parsed.success) {
			const text = typeof response.body === 'string' ? `: ${response.body.slice(0, 200)}` : '';
			return new AllfeatRegistrationError(this.redact(`Allfeat ATS ${step} failed with HTTP ${response.status}${text}`), response.status, null, null, {}, undefined, response.retryAfterMs);
		}
		const { code, message, details, request_id: requestId } = parsed.data.error;
		const known = REGISTRATION_CODES[code];
		const extra = detailsSentence(code, details ?? {});
		const said = known ? known.meaning : (message ?? 'an error');
		const text = `Allfeat ATS ${step} failed: ${said}${extra ? ` (${extra})` : ''} [HTTP ${response.status}, ${code}${requestId ? `, request_id ${requestId}` : ''}]`;
		return new AllfeatRegistrationError(this.redact(text), response.status, code, requestId ?? null, details ?? {}, known?.hint, response.retryAfterMs);
	}
}

/** The details worth a user's eye, per code: fields, reset time, sizes, the dry run's reason, the missing scope. */
function detailsSentence(code: string, details: Record<string, unknown>): string {
	switch (code) {
		case 'common.validation_failed': {
			const fields = describeFieldErrors(details);
			return fields.length ? `fields: ${fields.join('; ')}` : '';
		}
		case 'common.quota_exceeded':
			return typeof details.resets_at === 'string' ? `resets at ${details.resets_at}` : 'the service did not say when it resets';
		case 'registration.audio_too_large':
			return typeof details.size_bytes === 'number' && typeof details.max_bytes === 'number' ? `${details.size_bytes} bytes, at most ${details.max_bytes}` : '';
		case 'registration.dry_run_failed':
			return typeof details.reason === 'string' ? `reason: ${details.reason}` : '';
		case 'api_key.scope_denied':
			return typeof details.required === 'string' ? `required scope: ${details.required}` : '';
		default:
			return '';
	}
}
