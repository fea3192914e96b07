import { TransitionTracker } from '../nodes/shared/TransitionTracker';
import { createRedactor } from '../nodes/shared/redact';
import { decodeProofFile, parseProofField, parseProofOptions, ProofInputError } from '../nodes/Kurier/proofInput';
import { isKurierFinal, kurierStatusRank, normalizeKurierJob, parseServerFrame, KURIER_PHASES } from '../nodes/Kurier/protocol';

describe('TransitionTracker', () => {
	test('a transition is new once; a repeated frame is not', () => {
		const tracker = new TransitionTracker();
		expect(tracker.accept({ id: 'a', transitionKey: 'Queued', isFinal: false })).not.toBeNull();
		expect(tracker.accept({ id: 'a', transitionKey: 'Queued', isFinal: false })).toBeNull();
		expect(tracker.accept({ id: 'b', transitionKey: 'Queued', isFinal: false })).not.toBeNull();
	});

	test('a status that comes back with a new marker is a new transition (Tachyon retries)', () => {
		const tracker = new TransitionTracker();
		expect(tracker.accept({ id: 't', transitionKey: 'PENDING#0', isFinal: false })).not.toBeNull();
		expect(tracker.accept({ id: 't', transitionKey: 'NEEDS_TO_BE_RETRIED#1', isFinal: false })).not.toBeNull();
		expect(tracker.accept({ id: 't', transitionKey: 'PENDING#1', isFinal: false })).not.toBeNull();
		expect(tracker.accept({ id: 't', transitionKey: 'PENDING#1', isFinal: false })).toBeNull();
	});

	test('with ranks, a late older status is refused (no out-of-order emission)', () => {
		const tracker = new TransitionTracker();
		expect(tracker.accept({ id: 'j', transitionKey: 'IncludedInBlock', rank: 3, isFinal: false })).not.toBeNull();
		expect(tracker.accept({ id: 'j', transitionKey: 'Submitted', rank: 2, isFinal: false })).toBeNull();
		expect(tracker.accept({ id: 'j', transitionKey: 'Finalized', rank: 4, isFinal: true })).not.toBeNull();
	});

	test('unfinishedIds lists what a reconcile must check', () => {
		const tracker = new TransitionTracker();
		tracker.accept({ id: 'a', transitionKey: 'Queued', isFinal: false });
		tracker.accept({ id: 'b', transitionKey: 'Failed', isFinal: true });
		expect(tracker.unfinishedIds()).toEqual(['a']);
	});

	test('memory stays bounded: final ids are forgotten after the grace period, and ids are capped', () => {
		let now = 0;
		const tracker = new TransitionTracker({ finalGraceMs: 1000, maxIds: 100, now: () => now });
		for (let i = 0; i < 50; i++) tracker.accept({ id: `done-${i}`, transitionKey: 'Finalized', isFinal: true });
		expect(tracker.size).toBe(50);
		now = 999;
		tracker.accept({ id: 'x', transitionKey: 'Queued', isFinal: false });
		expect(tracker.size).toBe(51);
		now = 1001;
		tracker.accept({ id: 'y', transitionKey: 'Queued', isFinal: false });
		expect(tracker.size).toBe(2);
		for (let i = 0; i < 500; i++) tracker.accept({ id: `open-${i}`, transitionKey: 'Queued', isFinal: false });
		expect(tracker.size).toBe(100);
	});

	test('over the cap, finished ids are forgotten before unfinished ones', () => {
		const tracker = new TransitionTracker({ maxIds: 3 });
		tracker.accept({ id: 'open-old', transitionKey: 'Queued', isFinal: false });
		tracker.accept({ id: 'done', transitionKey: 'Failed', isFinal: true });
		tracker.accept({ id: 'open-2', transitionKey: 'Queued', isFinal: false });
		tracker.accept({ id: 'open-3', transitionKey: 'Queued', isFinal: false });
		expect(tracker.unfinishedIds()).toEqual(['open-old', 'open-2', 'open-3']);
		tracker.accept({ id: 'open-4', transitionKey: 'Queued', isFinal: false });
		expect(tracker.unfinishedIds()).toEqual(['open-2', 'open-3', 'open-4']);
	});

	test('a final id swallows a late duplicate during its grace period', () => {
		const tracker = new TransitionTracker();
		tracker.accept({ id: 't', transitionKey: 'EXECUTED#0', isFinal: true });
		expect(tracker.accept({ id: 't', transitionKey: 'PENDING#0', isFinal: false })).toBeNull();
	});
});

describe('redaction', () => {
	test('hides the secret, its URL-encoded form, and secret-looking query parameters', () => {
		const redact = createRedactor(['my/secret+key']);
		expect(redact('GET /job-status/my/secret+key/1')).toBe('GET /job-status/[redacted]/1');
		expect(redact('ws://h/ws?apiKey=my%2Fsecret%2Bkey')).toBe('ws://h/ws?apiKey=[redacted]');
		expect(redact('ws://h/ws?token=abc&x=1')).toBe('ws://h/ws?token=[redacted]&x=1');
	});
});

describe('Kurier protocol', () => {
	test('status table follows the contract; unknown statuses are pending and not final', () => {
		expect(KURIER_PHASES.phaseOf('Queued')).toBe('pending');
		expect(KURIER_PHASES.phaseOf('Aggregated')).toBe('succeeded');
		expect(KURIER_PHASES.phaseOf('Failed')).toBe('failed');
		expect(KURIER_PHASES.phaseOf('SomethingNew')).toBe('pending');
		expect(isKurierFinal('SomethingNew', null)).toBe(false);
		expect(kurierStatusRank('SomethingNew')).toBeUndefined();
	});

	test('Finalized is final only without a destination chain', () => {
		expect(isKurierFinal('Finalized', null)).toBe(true);
		expect(isKurierFinal('Finalized', 84532)).toBe(false);
		expect(isKurierFinal('Aggregated', 84532)).toBe(true);
	});

	test('parses the documented server frames and passes extra fields through', () => {
		const parsed = parseServerFrame({
			type: 'job-status-update',
			data: { jobId: 'j', status: 'Finalized', event: 'finalized', proofType: 'groth16', txHash: '0x1', brandNew: { a: 1 } },
		});
		expect(parsed.ok && parsed.frame.type === 'job-status-update' && parsed.frame.data.brandNew).toEqual({ a: 1 });
		expect(parseServerFrame({ type: 'error', message: 'slow down', retryAfterSeconds: 3 }).ok).toBe(true);
		expect(parseServerFrame({ type: 'pong', timestamp: 1 }).ok).toBe(true);
	});

	test('unknown and malformed frames are reported, not thrown', () => {
		expect(parseServerFrame({ type: 'mystery' })).toMatchObject({ ok: false });
		expect(parseServerFrame({ type: 'job-status-update', data: { status: 'Queued' } })).toMatchObject({ ok: false, reason: expect.stringContaining('jobId') });
		expect(parseServerFrame(42)).toMatchObject({ ok: false });
	});

	test('normalizes a job into the contract item', () => {
		const item = normalizeKurierJob(
			{
				jobId: 'j1',
				status: 'Aggregated',
				statusId: 6,
				proofType: 'groth16',
				chainId: 11155111,
				createdAt: '2025-06-19T17:53:29.000Z',
				updatedAt: '2025-06-19T17:54:05.000Z',
				txHash: '0xtx',
				blockHash: '0xblock',
				txExplorerUrl: 'https://explorer/tx',
				aggregationId: 29537,
				statement: '0xstatement',
				aggregationDetails: { leafIndex: 6 },
			},
			'2025-06-19T17:54:06.000Z',
		);
		expect(item).toEqual({
			source: 'kurier',
			id: 'j1',
			status: 'Aggregated',
			phase: 'succeeded',
			isFinal: true,
			progress: null,
			txHash: '0xtx',
			blockHash: '0xblock',
			blockNumber: null,
			chainId: 11155111,
			explorerUrl: 'https://explorer/tx',
			error: null,
			occurredAt: '2025-06-19T17:54:05.000Z',
			receivedAt: '2025-06-19T17:54:06.000Z',
			details: {
				statusId: 6,
				proofType: 'groth16',
				createdAt: '2025-06-19T17:53:29.000Z',
				updatedAt: '2025-06-19T17:54:05.000Z',
				aggregationId: 29537,
				statement: '0xstatement',
				aggregationDetails: { leafIndex: 6 },
			},
		});
	});

	test('a failed job carries its reason; a missing timestamp falls back to receivedAt', () => {
		const item = normalizeKurierJob({ jobId: 'j', status: 'Failed', errorDetails: { message: 'bad proof' } }, '2026-01-01T00:00:00.000Z');
		expect(item).toMatchObject({ phase: 'failed', isFinal: true, error: 'bad proof', occurredAt: '2026-01-01T00:00:00.000Z' });
	});
});

describe('proof input', () => {
	test('JSON text becomes its value; hex and base64 stay strings; objects pass through', () => {
		expect(parseProofField('{"pi_a":["1"]}', 'Proof')).toEqual({ pi_a: ['1'] });
		expect(parseProofField('["1","2"]', 'Public Signals')).toEqual(['1', '2']);
		expect(parseProofField(' 0xabcdef ', 'Proof')).toBe('0xabcdef');
		expect(parseProofField('AAEC', 'Proof')).toBe('AAEC');
		expect(parseProofField({ a: 1 }, 'Proof')).toEqual({ a: 1 });
	});

	test('malformed JSON and empty values are clear errors', () => {
		expect(() => parseProofField('{"pi_a": [1,', 'Proof')).toThrow(/Proof is not valid JSON/);
		expect(() => parseProofField('  ', 'VK')).toThrow(new ProofInputError('VK is empty'));
		expect(() => parseProofOptions('[1]')).toThrow(/must be a JSON object/);
		expect(parseProofOptions('{}')).toBeUndefined();
	});

	test('files: JSON is parsed, hex text trimmed, raw bytes sent as base64', () => {
		expect(decodeProofFile(Buffer.from('{"protocol":"groth16"}\n'), 'VK')).toEqual({ protocol: 'groth16' });
		expect(decodeProofFile(Buffer.from('0x1234\n'), 'Proof')).toBe('0x1234');
		expect(decodeProofFile(Buffer.from([0, 1, 2, 255]), 'Proof')).toBe('AAEC/w==');
		expect(() => decodeProofFile(Buffer.alloc(0), 'Proof')).toThrow(/Proof file is empty/);
	});
});
