import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Allfeat's webhook signature (B.5, webhooks.mdx): `X-Allfeat-Signature: t=<unix s>,v1=<hex>`, the
 * hex HMAC-SHA256 of `"<t>.<raw body bytes>"` keyed with the base64-decoded `webhook_secret_base64`,
 * compared in constant time, and refused when `|now - t| > 300 s`. No n8n types here.
 */

export const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Allfeat hands out 32-byte secrets; anything much shorter was not copied whole. */
const MIN_SECRET_BYTES = 16;

export type SignatureRejection = 'missing' | 'malformed' | 'stale' | 'mismatch';

export type SignatureCheck = { valid: true; timestamp: number } | { valid: false; reason: SignatureRejection };

export interface SignedRequest {
	/** The `X-Allfeat-Signature` header. */
	signatureHeader: string | undefined;
	/** `X-Allfeat-Timestamp`: used only when the signature header has no `t` (the Express example reads it). */
	timestampHeader: string | undefined;
	rawBody: Buffer;
}

/** Thrown for a webhook secret that cannot be the base64 secret Allfeat returned. */
export class WebhookSecretError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'WebhookSecretError';
	}
}

/** The HMAC key: the secret as saved from `webhook_secret_base64`, decoded (standard or URL-safe base64). */
export function decodeWebhookSecret(secretBase64: string): Buffer {
	const compact = secretBase64.replace(/\s+/g, '');
	if (compact === '') {
		throw new WebhookSecretError('The credential has no webhook secret. Paste the webhook_secret_base64 value Allfeat returned when the API key was created.');
	}
	if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) {
		throw new WebhookSecretError('The webhook secret is not base64. Paste the webhook_secret_base64 value Allfeat returned when the API key was created.');
	}
	const key = Buffer.from(compact, 'base64');
	if (key.length < MIN_SECRET_BYTES) {
		throw new WebhookSecretError(`The webhook secret decodes to ${key.length} bytes; Allfeat's secrets are 32. Paste the whole webhook_secret_base64 value.`);
	}
	return key;
}

export function signatureFor(key: Buffer, timestamp: number | string, rawBody: Buffer): string {
	return createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${timestamp}.`), rawBody])).digest('hex');
}

/** Checks a delivery. Several `v1` values are accepted (any one matching), as Stripe-style schemes allow during secret rotation. */
export function verifyAllfeatSignature(request: SignedRequest, key: Buffer, nowSeconds: number, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS): SignatureCheck {
	if (!request.signatureHeader?.trim()) return { valid: false, reason: 'missing' };
	const parsed = parseSignatureHeader(request.signatureHeader);
	const timestampText = parsed.timestamp ?? request.timestampHeader?.trim();
	if (timestampText === undefined || !/^\d{1,12}$/.test(timestampText) || parsed.signatures.length === 0) {
		return { valid: false, reason: 'malformed' };
	}
	const timestamp = Number(timestampText);
	if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { valid: false, reason: 'stale' };

	const expected = Buffer.from(signatureFor(key, timestampText, request.rawBody), 'hex');
	// Every candidate is compared (no early exit), each in constant time on equal-length buffers.
	let matched = false;
	for (const candidate of parsed.signatures) {
		const given = /^[0-9a-f]+$/i.test(candidate) ? Buffer.from(candidate, 'hex') : Buffer.alloc(0);
		if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
	}
	return matched ? { valid: true, timestamp } : { valid: false, reason: 'mismatch' };
}

function parseSignatureHeader(header: string): { timestamp: string | undefined; signatures: string[] } {
	let timestamp: string | undefined;
	const signatures: string[] = [];
	for (const part of header.split(',')) {
		const separator = part.indexOf('=');
		if (separator < 0) continue;
		const name = part.slice(0, separator).trim();
		const value = part.slice(separator + 1).trim();
		if (name === 't') timestamp = value;
		else if (name === 'v1' && value) signatures.push(value);
	}
	return { timestamp, signatures };
}
