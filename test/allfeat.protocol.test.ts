/**
 * Allfeat ATS protocol module and webhook signature, on their own: the shapes the docs leave open
 * (marked INFERRED or only in the widget source) are each accepted here.
 */
import { splitIdList } from '../nodes/shared/idList';
import { createHmac } from 'node:crypto';

import {
	describeErrorFrame,
	isAllfeatTransactionId,
	isNotFoundError,
	normalizeStep,
	normalizeTransaction,
	normalizeWebhookEvent,
	parseServerFrame,
	stepEventsOf,
	transactionSchema,
	webhookEventSchema,
} from '../nodes/AllfeatAts/protocol';
import type { AllfeatErrorFrame } from '../nodes/AllfeatAts/protocol';
import { decodeWebhookSecret, verifyAllfeatSignature } from '../nodes/AllfeatAts/webhookSignature';

const ID = '6f1c2a4e-9b7d-4c3e-8f21-0a5b6c7d8e9f';
const RECEIVED = '2026-04-30T12:00:00.000Z';

/** The documented example resource (tracking.mdx), with the current step listed in the history. */
const documented = {
	id: ID,
	transaction_type: 'register',
	current_step: 'confirming',
	progress: 80,
	description: 'Waiting for block confirmation',
	is_complete: false,
	result: null,
	steps: [
		{ step: 'validating', progress: 5, description: '…', timestamp: '2026-04-30T11:00:01Z' },
		{ step: 'preparing_transaction', progress: 20, description: '…', timestamp: '2026-04-30T11:00:05Z' },
		{ step: 'signing', progress: 40, description: '…', timestamp: '2026-04-30T11:00:10Z' },
		{ step: 'submitting', progress: 60, description: '…', timestamp: '2026-04-30T11:00:30Z' },
		{ step: 'confirming', progress: 80, description: '…', timestamp: '2026-04-30T11:00:42Z' },
	],
	created_at: '2026-04-30T11:00:00Z',
	updated_at: '2026-04-30T11:00:42Z',
	region: 'eu-west',
};

describe('transaction resource', () => {
	test('the documented resource parses, keeps unknown fields, and normalizes with its history', () => {
		const transaction = transactionSchema.parse(documented);
		const item = normalizeTransaction(ID, transaction, RECEIVED);
		expect(item).toMatchObject({ id: ID, status: 'confirming', phase: 'pending', isFinal: false, progress: 80, occurredAt: '2026-04-30T11:00:42.000Z' });
		expect(item.details).toMatchObject({ transaction_type: 'register', description: 'Waiting for block confirmation', region: 'eu-west', is_complete: false });
		expect(item.details.steps).toHaveLength(5);
	});

	test('history entries without a step are dropped; a current step missing from the history is appended', () => {
		const transaction = transactionSchema.parse({
			...documented,
			current_step: 'completed',
			is_complete: true,
			result: { success: true, tx_hash: '0xabc', block_number: '1234567', ats_id: '1024', explorer_url: 'https://explorer.allfeat.org/tx/0xabc' },
			steps: [...documented.steps, { progress: 90 }, 'junk'],
		});
		const events = stepEventsOf(transaction);
		expect(events.map((e) => e.step)).toEqual(['validating', 'preparing_transaction', 'signing', 'submitting', 'confirming', 'completed']);
		const final = normalizeStep({ transactionId: ID, transactionType: 'register' }, events[5], RECEIVED);
		expect(final).toMatchObject({ status: 'completed', phase: 'succeeded', isFinal: true, txHash: '0xabc', blockNumber: 1234567, occurredAt: '2026-04-30T11:00:42.000Z' });
		expect(final.details).toMatchObject({ ats_id: '1024', success: true });
	});

	test('a failure reason is read from a string or from the unified error envelope', () => {
		const context = { transactionId: ID, transactionType: null };
		expect(normalizeStep(context, { step: 'failed', outcome: { error: 'chain error' } }, RECEIVED).error).toBe('chain error');
		expect(normalizeStep(context, { step: 'failed', outcome: { error: { code: 'registration.dry_run_failed', message: 'Dry run failed' } } }, RECEIVED).error).toBe(
			'Dry run failed (registration.dry_run_failed)',
		);
		expect(normalizeStep(context, { step: 'failed', description: 'Out of credits' }, RECEIVED).error).toBe('Out of credits');
		expect(normalizeStep(context, { step: 'failed' }, RECEIVED).error).toBe('Allfeat ATS transaction failed');
	});
});

describe('WebSocket frames', () => {
	test('documented and widget frame shapes parse; unknown and malformed ones are reported', () => {
		expect(parseServerFrame({ type: 'connected', transaction_id: ID })).toMatchObject({ ok: true });
		expect(parseServerFrame({ type: 'update', step: 'completed', progress: 100, details: { tx_hash: '0x1', ats_id: 7 } })).toMatchObject({ ok: true });
		expect(parseServerFrame({ type: 'not_found', message: 'Transaction not found' })).toMatchObject({ ok: true });
		expect(parseServerFrame({ type: 'update', progress: 5 })).toEqual({ ok: false, reason: 'frame of type "update": step Required' });
		expect(parseServerFrame({ type: 'pong' })).toMatchObject({ ok: false, reason: expect.stringContaining('frame of type "pong"') });
		expect(parseServerFrame('text')).toEqual({ ok: false, reason: 'frame without a known "type"' });
	});

	test.each([
		[{ type: 'error', error: { code: 'common.not_found', message: 'Transaction not found', request_id: 'req_1' } }, 'common.not_found', true],
		[{ type: 'error', message: 'Transaction not found' }, null, true],
		[{ type: 'error', error: 'NOT_FOUND' }, null, true],
		[{ type: 'error', error: { code: 'common.service_unavailable', message: 'Try later' } }, 'common.service_unavailable', false],
	])('error frame %j: code %s, not found %s', (raw, code, notFound) => {
		const parsed = parseServerFrame(raw);
		if (!parsed.ok || parsed.frame.type !== 'error') throw new Error('expected an error frame');
		const described = describeErrorFrame(parsed.frame as AllfeatErrorFrame);
		expect(described.code).toBe(code);
		expect(isNotFoundError(described.code, described.message)).toBe(notFound);
	});
});

describe('webhook payloads', () => {
	test('work_registered and work_failed map onto the final steps', () => {
		const registered = normalizeWebhookEvent(
			webhookEventSchema.parse({ event: 'work_registered', transaction_id: ID, tx_hash: '0xabc', block_number: 12, block_hash: '0xdef', ats_id: 1024, finalized_at: '2026-04-30T11:00:42Z' }),
			RECEIVED,
		);
		expect(registered).toMatchObject({ status: 'completed', phase: 'succeeded', isFinal: true, txHash: '0xabc', blockHash: '0xdef', blockNumber: 12, occurredAt: '2026-04-30T11:00:42.000Z' });
		expect(registered.details).toEqual({ event: 'work_registered', transaction_type: 'register', ats_id: 1024, finalized_at: '2026-04-30T11:00:42Z' });
		const failed = normalizeWebhookEvent(webhookEventSchema.parse({ event: 'work_failed', transaction_id: ID, reason: 'quota exceeded', failed_at: '2026-04-30T11:00:50Z' }), RECEIVED);
		expect(failed).toMatchObject({ status: 'failed', phase: 'failed', isFinal: true, error: 'quota exceeded', occurredAt: '2026-04-30T11:00:50.000Z' });
	});
});

describe('webhook signature', () => {
	const secret = Buffer.alloc(32, 7).toString('base64');
	const key = decodeWebhookSecret(secret);
	const body = Buffer.from('{"event":"work_registered"}');
	const sign = (t: number | string, payload = body) => createHmac('sha256', key).update(`${t}.`).update(payload).digest('hex');
	const check = (signatureHeader: string | undefined, timestampHeader?: string) => verifyAllfeatSignature({ signatureHeader, timestampHeader, rawBody: body }, key, 1_714_478_345);

	test('the documented reference vector form verifies; every rejection has its reason', () => {
		expect(check(`t=1714478345,v1=${sign(1714478345)}`)).toEqual({ valid: true, timestamp: 1714478345 });
		expect(check(` t=1714478345 , v1=${sign(1714478345).toUpperCase()} `)).toMatchObject({ valid: true });
		expect(check(undefined)).toEqual({ valid: false, reason: 'missing' });
		expect(check(`v1=${sign(1714478345)}`)).toEqual({ valid: false, reason: 'malformed' });
		expect(check(`t=1714478000,v1=${sign(1714478000)}`)).toEqual({ valid: false, reason: 'stale' });
		expect(check(`t=1714478345,v1=${sign(1714478345, Buffer.from('{}'))}`)).toEqual({ valid: false, reason: 'mismatch' });
		expect(check(`t=1714478345,v1=${sign(1714478345).slice(0, 62)}`)).toEqual({ valid: false, reason: 'mismatch' });
	});

	test('without t in the header, X-Allfeat-Timestamp is used (the Express example reads it)', () => {
		expect(check(`v1=${sign(1714478340)}`, '1714478340')).toEqual({ valid: true, timestamp: 1714478340 });
	});

	test('the secret must be the base64 value (standard or URL-safe), whole', () => {
		expect(decodeWebhookSecret(Buffer.alloc(32, 255).toString('base64url'))).toEqual(Buffer.alloc(32, 255));
		expect(() => decodeWebhookSecret('')).toThrow(/has no webhook secret/);
		expect(() => decodeWebhookSecret('hex:00ff')).toThrow(/not base64/);
		expect(() => decodeWebhookSecret('AAAA')).toThrow(/decodes to 3 bytes/);
	});
});

describe('transaction ids', () => {
	test('split on commas, semicolons, whitespace and new lines, or given as an array; de-duplicated', () => {
		expect(splitIdList(` ${ID},\n${ID} ; abc `)).toEqual([ID, 'abc']);
		expect(splitIdList([ID, ` ${ID} `, null])).toEqual([ID]);
		expect(splitIdList(undefined)).toEqual([]);
	});

	test('UUIDs with or without hyphens are ids; anything else is not', () => {
		expect(isAllfeatTransactionId(ID)).toBe(true);
		expect(isAllfeatTransactionId(ID.toUpperCase().replace(/-/g, ''))).toBe(true);
		expect(isAllfeatTransactionId('6f1c...')).toBe(false);
		expect(isAllfeatTransactionId(`${ID}-`)).toBe(false);
	});
});
