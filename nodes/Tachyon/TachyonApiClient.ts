import { createHash } from 'node:crypto';
import type { ZodType } from 'zod/v4';

import { ServiceApiError, isRecord, requestJson, serviceErrorFrom } from '../shared/http';
import type { JsonResponse } from '../shared/http';
import type { Redactor } from '../shared/redact';
import { READABLE_ISSUES } from '../shared/validation';
import { restBudgetFor } from '../shared/restBudget';
import type { RestBudget } from '../shared/restBudget';
import { createRedactor } from '../shared/redact';
import type { SubmitTxRequest, SubmitTxResult, SubmitTxSyncOptions, TachyonTransaction } from './protocol';
import {
	TACHYON_DEFAULT_BASE_URL,
	registerWebsocketDataSchema,
	submitTxDataSchema,
	submitTxSyncBody,
	transactionSchema,
	unwrapEnvelope,
	webSocketUrlFor,
} from './protocol';
import { CredentialError, chosenBaseUrl, httpBaseUrl, knownRestRate } from '../shared/credentialFields';

/** What a `tachyonApi` credential resolves to. */
export interface TachyonConnection {
	/** REST origin without a trailing slash, e.g. https://tachyon.rath.fi */
	baseUrl: string;
	apiKey: string;
	dashboardJwt: string | null;
	/** An already registered WebSocket key, with the credential's URL or else the host's. */
	webSocket: TachyonWebSocketEndpoint | null;
	/** The key's REST rate limit where known (credential); absent or 0: learnt (see restBudget.ts). */
	restRequestsPerSecond?: number;
}

/** What registers the WebSocket: the dashboard JWT when the credential has one, else the API key. */
export type RegistrationAuth = 'dashboardJwt' | 'apiKey';

export interface TachyonWebSocketEndpoint {
	url: string;
	key: string;
}

export interface TachyonCredentialFields {
	/** A documented host's origin, `custom`, or (saved before the host was a choice) any REST origin. */
	baseUrl?: unknown;
	customBaseUrl?: unknown;
	apiKey?: unknown;
	dashboardJwt?: unknown;
	wsKey?: unknown;
	wsUrl?: unknown;
	restRequestsPerSecond?: unknown;
}

export function resolveTachyonConnection(fields: TachyonCredentialFields): TachyonConnection {
	const apiKey = text(fields.apiKey);
	if (!apiKey) throw new CredentialError('The Tachyon credential has no API key. Add the key from the Tachyon dashboard to the credential.');
	const baseUrl = restBaseUrl(chosenBaseUrl(fields, 'Tachyon', TACHYON_DEFAULT_BASE_URL));
	return {
		baseUrl,
		apiKey,
		dashboardJwt: text(fields.dashboardJwt) || null,
		webSocket: credentialWebSocket(text(fields.wsUrl), text(fields.wsKey), baseUrl),
		restRequestsPerSecond: knownRestRate(fields.restRequestsPerSecond),
	};
}

function restBaseUrl(value: string): string {
	// People paste the API root ("…/api") as often as the origin; the paths below add /api themselves.
	return httpBaseUrl(value, 'Tachyon', `Use ${TACHYON_DEFAULT_BASE_URL}, or your emulator's address.`, /\/api$/i);
}

/**
 * A stored key, with the stored URL or else the host's WebSocket URL. A URL without a key is not
 * used: registration (which always answers with its own URL) provides both.
 */
function credentialWebSocket(wsUrl: string, wsKey: string, baseUrl: string): TachyonWebSocketEndpoint | null {
	if (!wsKey) return null;
	return { url: toWebSocketUrl(wsUrl || webSocketUrlFor(baseUrl), wsUrl ? "The Tachyon credential's WebSocket URL" : 'The WebSocket URL derived from the host'), key: wsKey };
}

/** Registration may answer with an http(s) URL for the same endpoint; the WebSocket client needs ws(s). */
function toWebSocketUrl(raw: string, what: string): string {
	const url = raw.trim().replace(/^http(s?):\/\//i, 'ws$1://');
	if (!/^wss?:\/\/[^/\s]+/i.test(url)) throw new CredentialError(`${what} "${raw}" is not a ws(s):// URL, e.g. wss://tachyon.rath.fi/ws.`);
	return url;
}

function text(value: unknown): string {
	return typeof value === 'string' ? value.trim() : '';
}

// A well-formed transaction id (24-hex, like Tachyon's ids) that no transaction has.
const CREDENTIAL_PROBE_TX_ID = '000000000000000000000000';

type Auth = 'apiKey' | 'dashboardJwt';

/** Extra wait over the server's own submit-tx-sync wait, for the answer to travel back. */
const SYNC_RESPONSE_MARGIN_MS = 15_000;

/**
 * Tachyon's REST API: `api-key` header for transactions, and for registering the WebSocket either
 * `Authorization: Bearer <dashboard JWT>` (newest page) or the API key (SDK, older page). Its redactor hides the API key, the JWT and every WebSocket key the
 * client has seen, including one it registered itself.
 */
export class TachyonApiClient {
	private readonly secrets: string[];
	private redactor: Redactor;
	/** Bound, so that holders of it also hide a key registered later. */
	readonly redact: Redactor = (message: string) => this.redactor(message);

	/** The pace of this key's reconciles and sweeps, shared by every trigger of the key in this process. */
	get restBudget(): RestBudget {
		return restBudgetFor('tachyon', `${this.connection.baseUrl} ${this.connection.apiKey}`, this.connection.restRequestsPerSecond);
	}

	constructor(
		private readonly connection: TachyonConnection,
		private readonly timeoutMs = 30_000,
	) {
		this.secrets = [connection.apiKey, connection.dashboardJwt ?? '', connection.webSocket?.key ?? ''];
		this.redactor = createRedactor(this.secrets);
	}

	async submitTransaction(request: SubmitTxRequest): Promise<SubmitTxResult> {
		const what = 'Relaying the transaction';
		return this.expect(await this.call('POST', '/api/submit-tx', 'apiKey', what, request), submitTxDataSchema, what);
	}

	/**
	 * POST /api/submit-tx-sync: the server holds the request until the transaction is final or its
	 * `timeoutMs` passed, and answers with the transaction status object (final or the latest known).
	 */
	async submitTransactionSync(request: SubmitTxRequest, options: SubmitTxSyncOptions, signal?: AbortSignal): Promise<TachyonTransaction> {
		const what = 'Relaying the transaction and waiting for it';
		const body = submitTxSyncBody(request, options);
		const response = await this.call('POST', '/api/submit-tx-sync', 'apiKey', what, body, signal, options.timeoutMs + SYNC_RESPONSE_MARGIN_MS);
		return this.expect(response, transactionSchema, what);
	}

	async getTransaction(txId: string, signal?: AbortSignal): Promise<TachyonTransaction> {
		const what = `Reading Tachyon transaction ${txId}`;
		return this.expect(await this.call('GET', `/api/tx?id=${encodeURIComponent(txId)}`, 'apiKey', what, undefined, signal), transactionSchema, what);
	}

	/** What registerWebsocket() authenticates with: the JWT when the credential has one, else the API key. */
	get registrationAuth(): RegistrationAuth {
		return this.connection.dashboardJwt ? 'dashboardJwt' : 'apiKey';
	}

	/**
	 * "Creates or returns" the account's persistent WebSocket key (A.7), with the dashboard JWT when
	 * the credential has one, else with the API key (as the SDK's registerWebsocket() and the older
	 * API page do). The key is redacted from then on.
	 */
	async registerWebsocket(): Promise<{ wsUrl: string; wsKey: string }> {
		const auth = this.registrationAuth;
		const what = `Registering the WebSocket (with the ${auth === 'dashboardJwt' ? 'dashboard JWT' : 'API key'})`;
		const response = await this.call('POST', '/api/user/register-websocket', auth, what, {});
		if (auth === 'apiKey' && (response.status === 401 || response.status === 403)) {
			// The newest page shows only the dashboard JWT here; the SDK and the older page the API key.
			const refused = serviceErrorFrom(response, what, this.redact);
			throw new ServiceApiError(
				`${refused.message}. This host may only register WebSockets with the dashboard JWT: add it to the credential, or store a registered WebSocket Key.`,
				refused.httpStatus,
				refused.serviceCode,
			);
		}
		const data = this.expect(response, registerWebsocketDataSchema, what);
		const wsKey = (data.apiKey ?? data.wsKey) as string;
		this.rememberSecret(wsKey);
		return { wsUrl: toWebSocketUrl(data.wsUrl, 'Tachyon returned a WebSocket URL'), wsKey };
	}

	/** The credential's WebSocket key (and URL), or, without a key, the ones registration hands out. */
	/** The credential's own WebSocket URL and key, when it has them (no registration needed). */
	get storedWebSocket(): TachyonWebSocketEndpoint | null {
		return this.connection.webSocket;
	}

	/**
	 * Who registers, as a key for sharing one socket: the host and a digest of the secret that
	 * registers (the secret itself is not kept).
	 */
	get registrationIdentity(): string {
		const secret = this.connection.dashboardJwt ?? this.connection.apiKey;
		return `${this.connection.baseUrl} ${createHash('sha256').update(secret).digest('hex')}`;
	}

	async webSocketEndpoint(): Promise<TachyonWebSocketEndpoint> {
		if (this.connection.webSocket) return this.connection.webSocket;
		const { wsUrl, wsKey } = await this.registerWebsocket();
		return { url: wsUrl, key: wsKey };
	}

	/**
	 * For the credential test. The API key: reading a transaction that cannot exist answers 401/403
	 * for a refused key and 404 (or 200/400) for an accepted one; this proves the base URL is a
	 * Tachyon-like JSON API and the key is not refused (if the read turns out to be public, as the
	 * newer docs may suggest, a wrong key cannot be told apart). The JWT, when set: registering the
	 * WebSocket is documented as "creates or returns", so calling it changes nothing once done.
	 */
	async verifyCredential(): Promise<{ valid: boolean; message: string }> {
		const keyCheck = await this.call('GET', `/api/tx?id=${CREDENTIAL_PROBE_TX_ID}`, 'apiKey', 'Checking the API key');
		if (keyCheck.status === 401 || keyCheck.status === 403 || keyCheck.status >= 500) {
			return { valid: false, message: serviceErrorFrom(keyCheck, 'Checking the API key', this.redact).message };
		}
		if (!isRecord(keyCheck.body)) {
			return { valid: false, message: this.redact(`${this.connection.baseUrl} answered HTTP ${keyCheck.status} without JSON: is it Tachyon's API?`) };
		}
		if (!this.connection.dashboardJwt) return { valid: true, message: 'Tachyon accepted the API key' };
		const jwtCheck = await this.call('POST', '/api/user/register-websocket', 'dashboardJwt', 'Checking the dashboard JWT', {});
		if (jwtCheck.status < 200 || jwtCheck.status >= 300) {
			return { valid: false, message: `The API key was accepted, but: ${serviceErrorFrom(jwtCheck, 'Checking the dashboard JWT', this.redact).message}` };
		}
		return { valid: true, message: 'Tachyon accepted the API key and the dashboard JWT' };
	}

	private rememberSecret(secret: string): void {
		this.secrets.push(secret);
		this.redactor = createRedactor(this.secrets);
	}

	private async call(method: 'GET' | 'POST', path: string, auth: Auth, what: string, body?: unknown, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<JsonResponse> {
		const headers: Record<string, string> =
			auth === 'apiKey' ? { 'api-key': this.connection.apiKey } : { authorization: `Bearer ${this.connection.dashboardJwt ?? ''}` };
		// The older register-websocket page spells the header `apikey`; sending both costs nothing.
		if (auth === 'apiKey' && path.startsWith('/api/user/')) headers.apikey = this.connection.apiKey;
		return await requestJson({ method, url: `${this.connection.baseUrl}${path}`, headers, body, timeoutMs, signal }, this.redact).catch((error: Error) => {
			error.message = `${what}: ${error.message}`;
			throw error;
		});
	}

	/** The envelope's `data`, checked against `schema`; non-2xx and `success:false` answers become ServiceApiErrors. */
	private expect<T>(response: JsonResponse, schema: ZodType<T>, what: string): T {
		if (response.status < 200 || response.status >= 300) throw serviceErrorFrom(response, what, this.redact);
		const unwrapped = unwrapEnvelope(response.body);
		if (!unwrapped.ok) {
			throw new ServiceApiError(this.redact(`${what} failed: ${unwrapped.message}`), response.status, unwrapped.code ? this.redact(unwrapped.code) : null);
		}
		const parsed = schema.safeParse(unwrapped.data, READABLE_ISSUES);
		if (parsed.success) return parsed.data;
		const issue = parsed.error.issues[0];
		const shape = isRecord(unwrapped.data) ? `fields ${Object.keys(unwrapped.data).join(', ') || 'none'}` : typeof unwrapped.data;
		throw new ServiceApiError(
			this.redact(`${what}: Tachyon answered with an unexpected body (${shape}; ${issue?.path.map(String).join('.') || 'body'}: ${issue?.message ?? 'invalid'})`),
			response.status,
			null,
		);
	}
}
