/**
 * The per-frame fast path: frame schemas compiled to plain checks (compileCheck) must agree with zod
 * on every frame, valid or broken, so the speed costs no validation.
 */
import { z } from 'zod/v4';

import { compileCheck, parseTypedFrame } from '../nodes/shared/frames';
import * as kurier from '../nodes/Kurier/protocol';
import * as allfeat from '../nodes/AllfeatAts/protocol';
import * as tachyon from '../nodes/Tachyon/protocol';

const STAMP = '2026-11-30T12:00:00.000Z';

/** Valid frames of each service, as their emulators and references show them. */
const FRAMES: Array<[string, z.ZodType, Record<string, unknown>]> = [
	[
		'Kurier job update',
		kurier.serverFrameSchema,
		{
			type: 'job-status-update',
			data: { jobId: 'a0b1', status: 'IncludedInBlock', statusId: 3, proofType: 'groth16', chainId: 84532, createdAt: STAMP, updatedAt: STAMP, txHash: '0xab', blockHash: null, txExplorerUrl: 'https://x', errorDetails: null },
		},
	],
	['Kurier error', kurier.serverFrameSchema, { type: 'error', code: 'RATE_LIMITED', message: 'slow down', retryAfterSeconds: 1.5, jobId: 'a0b1' }],
	['Kurier subscribed', kurier.serverFrameSchema, { type: 'subscribed', jobId: 'a0b1' }],
	['Kurier pong', kurier.serverFrameSchema, { type: 'pong', timestamp: 17 }],
	['Kurier job over REST', kurier.jobStatusSchema, { jobId: 'a0b1', status: 'Queued', chainId: null, submissionMode: 'direct' }],
	[
		'Allfeat update',
		allfeat.serverFrameSchema,
		{ type: 'update', step: 'completed', progress: 100, description: 'Done', timestamp: STAMP, details: { tx_hash: '0xab', block_number: 12, block_hash: null, explorer_url: 'https://x', error: null, ats_id: 7 } },
	],
	['Allfeat error', allfeat.serverFrameSchema, { type: 'error', error: { code: 'NOT_FOUND', message: 'no such id' }, message: null }],
];

/** Every way a field can be wrong (or right) in JSON, and then some. */
const VALUES: unknown[] = [undefined, null, '', 'x', 'RATE_LIMITED', 0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, true, false, {}, [], ['x'], { nested: 1 }, 'job-status-update', 'subscribed-all'];

function mutations(frame: Record<string, unknown>): unknown[] {
	const out: unknown[] = [frame, null, 'text', 42, [], [frame], {}];
	for (const key of Object.keys(frame)) {
		const { [key]: _dropped, ...without } = frame;
		out.push(without);
		for (const value of VALUES) out.push({ ...frame, [key]: value });
		const inner = frame[key];
		if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) {
			for (const nested of mutations(inner as Record<string, unknown>)) out.push({ ...frame, [key]: nested });
		}
	}
	return out;
}

describe('compiled frame checks', () => {
	test.each(FRAMES)('%s: the compiled check and zod agree on the frame and every mutation of it', (_name, schema, frame) => {
		const check = compileCheck(schema);
		if (check === null) throw new Error('expected the schema to compile');
		const cases = mutations(frame);
		expect(cases.length).toBeGreaterThan(40);
		const disagreements = cases.filter((candidate) => check(candidate) !== schema.safeParse(candidate).success);
		expect(disagreements).toEqual([]);
		expect(check(frame)).toBe(true);
	});

	test('Tachyon: a transaction frame is taken on the compiled check exactly when zod takes it', () => {
		const transaction = { txId: 't1', status: 'PENDING', chainId: 8453, retries: '1', txHash: null, executionTxHash: null, updatedAt: STAMP, error: null, costUSD: 0.1 };
		const cases = [...mutations(transaction), { ...transaction, txId: undefined, id: 'i1' }, { ...transaction, txId: undefined }];
		const disagreements = cases.filter((data) => (tachyon.classifyFrame({ type: 'notification', data }).kind === 'tx-update') !== tachyon.transactionSchema.safeParse(data).success);
		expect(disagreements).toEqual([]);
	});

	test('what it cannot compile exactly is left to zod', () => {
		expect(compileCheck(z.string().email())).toBeNull();
		// Schemas that are themselves format checks.
		for (const format of [z.email(), z.uuid(), z.iso.datetime(), z.int(), z.int32()]) expect(compileCheck(format)).toBeNull();
		expect(compileCheck(z.object({ at: z.iso.datetime() }))).toBeNull();
		expect(compileCheck(z.strictObject({ a: z.string() }))).toBeNull();
		expect(compileCheck(z.object({ a: z.string() }).refine(() => true))).toBeNull();
		expect(compileCheck(z.number().int())).toBeNull();
		expect(compileCheck(z.array(z.string()))).toBeNull();
	});

	test('an enum takes exactly the values zod takes (a numeric native enum: its numbers, not its names)', () => {
		enum Level {
			Low = 1,
			High = 2,
		}
		const schema = z.enum(Level);
		const check = compileCheck(schema)!;
		for (const candidate of [1, 2, 3, 'Low', 'High', '1', null]) expect([candidate, check(candidate)]).toEqual([candidate, schema.safeParse(candidate).success]);
	});

	test('bounds, literals and unions are checked as zod checks them', () => {
		const schema = z.object({ n: z.number().nonnegative().optional(), kind: z.enum(['a', 'b']), tag: z.literal('t'), either: z.union([z.number(), z.string().min(2)]).nullish() });
		const check = compileCheck(schema)!;
		for (const candidate of mutations({ n: 0, kind: 'a', tag: 't', either: 'xy' })) expect([candidate, check(candidate)]).toEqual([candidate, schema.safeParse(candidate).success]);
	});
});

describe('parseTypedFrame dispatches on the field a service names its frames by', () => {
	const schemas = { created: z.object({ event: z.literal('created'), id: z.string() }), moved: z.object({ event: z.literal('moved'), id: z.string(), to: z.string() }) };

	test('by `event`: each frame is checked against its own schema; unknown, missing and malformed ones say why', () => {
		expect(parseTypedFrame(schemas, { event: 'moved', id: 'a', to: 'b' }, 'event')).toEqual({ ok: true, frame: { event: 'moved', id: 'a', to: 'b' } });
		expect(parseTypedFrame(schemas, { event: 'moved', id: 'a' }, 'event')).toMatchObject({ ok: false, reason: expect.stringMatching(/^frame of event "moved": /) });
		expect(parseTypedFrame(schemas, { event: 'deleted', id: 'a' }, 'event')).toEqual({ ok: false, reason: 'frame of event "deleted": not a event this trigger knows' });
		expect(parseTypedFrame(schemas, { type: 'moved', id: 'a', to: 'b' }, 'event')).toEqual({ ok: false, reason: 'frame without a known "event"' });
	});

	test('by default the field is `type`, with the wording the services\' logs use', () => {
		expect(parseTypedFrame({ moved: schemas.moved }, { event: 'moved', id: 'a', to: 'b' })).toEqual({ ok: false, reason: 'frame without a known "type"' });
		expect(parseTypedFrame({ telemetry: z.object({}) }, { type: 'other' })).toEqual({ ok: false, reason: 'frame of type "other": not a type this trigger knows' });
	});
});
