/**
 * Register Work and Add Version inside n8n's engine (WorkflowExecute in manual mode, the input item
 * with its binary pinned), over real HTTP and WebSocket to the Allfeat emulator's registration API
 * on 127.0.0.1. Every operation, option, envelope code and the never-twice cases (re-run items,
 * duplicates, lost answers) are driven here; the emulator's ledger (jobs, uploads, debits) is what
 * the assertions read.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Container } from '@n8n/di';
import { BinaryDataConfig, BinaryDataService } from 'n8n-core';
import type { IBinaryData, IDataObject, INodeExecutionData, NodeApiError } from 'n8n-workflow';

import { AllfeatEmulator, REGISTRATION_ERROR_STATUS } from '../emulators/allfeat';
import type { RegistrationRoute } from '../emulators/allfeat';
import { AllfeatAts } from '../nodes/AllfeatAts/AllfeatAts.node';
import { deriveIdempotencyKey, toApiCreator } from '../nodes/AllfeatAts/registrationProtocol';
import { emulatorPerTest } from './helpers/emulatorPerTest';
import { runManually } from './helpers/n8nEngine';
import { TestScope } from './helpers/testScope';

const scope = new TestScope();
const KEY = `afo_sk_live_${'5eed'.repeat(12)}`;
let emulator: AllfeatEmulator;

const AUDIO = Buffer.from(`ID3\u0004 a short song ${'la '.repeat(200)}`);
const CREATOR = { fullName: 'Ada Lovelace', email: 'ada@example.com', roles: ['author', 'composer'], ipi: '00052210040', isni: '' };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function audioItem(bytes = AUDIO, fileName = 'night-drive.mp3', json: IDataObject = {}): INodeExecutionData {
	return { json, binary: { data: { data: bytes.toString('base64'), mimeType: 'audio/mpeg', fileName } } };
}

const registerParams = (extra: Record<string, unknown> = {}) => ({
	operation: 'registerWork',
	binaryPropertyName: 'data',
	title: 'Night Drive',
	network: 'testnet',
	creators: { creator: [CREATOR] },
	options: {},
	...extra,
});

async function run(
	parameters: Record<string, unknown>,
	input: INodeExecutionData[] = [audioItem()],
	options: { credential?: Record<string, unknown>; continueOnFail?: boolean; retryOnFail?: { maxTries: number; waitBetweenTries: number } } = {},
) {
	return await runManually(
		{
			nodeType: new AllfeatAts(),
			parameters: parameters as never,
			credentials: { allfeatAtsApi: { baseUrl: 'custom', customBaseUrl: emulator.baseUrl, apiKey: KEY, organizationId: emulator.registration.organizationId, ...options.credential } },
			continueOnFail: options.continueOnFail,
			retryOnFail: options.retryOnFail,
		},
		input,
	);
}

/** Transactions that `confirm` creates move to their final step right away (the wait then sees them final). */
function finishConfirmedTransactions(): void {
	emulator.onTransactionCreated = (transaction) => scope.later(20, () => emulator.advanceToEnd(transaction.id));
}

emulatorPerTest({
	scope,
	start: async () => (emulator = await AllfeatEmulator.start({ apiKeys: [KEY] })),
	close: async () => await emulator.close(),
	secrets: [KEY],
	clearEngineLogs: false,
});

describe('Register Work', () => {
	test('uploads the item\'s audio (no Authorization, with its length), quotes, confirms: transaction id, job id, tracking URLs and the quote; one debit', async () => {
		const result = await run(registerParams());
		expect(result.error).toBeUndefined();
		const [job] = emulator.registration.allJobs();
		const transactionId = emulator.registration.debits[0].transactionId;
		expect(result.items).toEqual([
			{
				transactionId,
				jobId: job.id,
				statusUrl: `${emulator.baseUrl}/v1/transactions/${transactionId}`,
				wsUrl: `${emulator.baseUrl.replace('http', 'ws')}/v1/ws/transactions/${transactionId}`,
				quote: expect.objectContaining({ job_id: job.id, work_id: job.workId, total_price_credits: 0, storage_fee_credits: 0, is_valid: true, commitment: expect.any(String) }),
			},
		]);
		expect(result.output[0].pairedItem).toEqual({ item: 0 });
		expect(job).toMatchObject({
			kind: 'register',
			network: 'testnet',
			title: 'Night Drive',
			filename: 'night-drive.mp3',
			creators: [{ full_name: 'Ada Lovelace', email: 'ada@example.com', roles: { author: true, composer: true, arranger: false, adapter: false }, ipi: '00052210040' }],
			audio: { sizeBytes: AUDIO.length, sha256: sha256(AUDIO), contentType: 'audio/mpeg' },
		});
		expect(job.creators[0]).not.toHaveProperty('isni');
		expect(emulator.registration.stats).toMatchObject({ inits: 1, uploadsAccepted: 1, uploadsWithAuthorization: 0, confirmsAccepted: 1 });
		expect(emulator.registration.debits).toHaveLength(1);
		expect(emulator.getTransaction(transactionId)?.transaction_type).toBe('register');
	});

	test('Wait Until Final: the final transaction in the normalized shape with jobId and quote; a failed one is output too (IF decides)', async () => {
		finishConfirmedTransactions();
		const completed = await run(registerParams({ options: { waitUntilFinal: true, timeout: 20 } }));
		expect(completed.error).toBeUndefined();
		expect(completed.items[0]).toMatchObject({
			source: 'allfeat-ats',
			id: emulator.registration.debits[0].transactionId,
			status: 'completed',
			phase: 'succeeded',
			isFinal: true,
			txHash: expect.stringMatching(/^0x/),
			jobId: emulator.registration.allJobs()[0].id,
			quote: expect.objectContaining({ total_price_credits: 0 }),
			details: expect.objectContaining({ transaction_type: 'register' }),
		});
		emulator.confirmedTransactionsFailAt = 'signing';
		const failed = await run(registerParams({ title: 'Another Song', options: { waitUntilFinal: true, timeout: 20 } }));
		expect(failed.error).toBeUndefined();
		expect(failed.items[0]).toMatchObject({ status: 'failed', phase: 'failed', isFinal: true, error: 'Insufficient balance', jobId: expect.any(String) });
	});

	test('Wait Until Final that times out says the work was submitted and how to follow it (the transaction exists, one debit)', async () => {
		const result = await run(registerParams({ options: { waitUntilFinal: true, timeout: 1 } }));
		const transactionId = emulator.registration.debits[0].transactionId;
		expect(result.error?.message).toBe(`The registration of "Night Drive" was submitted (transaction ${transactionId}) but was not final after 1 s (its last step was validating)`);
		expect((result.error as NodeApiError).description).toMatch(/Do not run the item again.*Wait for Transaction/);
		expect(emulator.registration.debits).toHaveLength(1);
	});

	test('options: file name, external user reference, mainnet; the price fields as Allfeat sent them', async () => {
		const result = await run(registerParams({ network: 'mainnet', options: { fileName: 'master.wav', externalUserRef: 'crm-42' } }));
		expect(result.error).toBeUndefined();
		const [job] = emulator.registration.allJobs();
		expect(job).toMatchObject({ network: 'mainnet', filename: 'master.wav', externalUserRef: 'crm-42' });
		expect(result.items[0].quote).toEqual({
			job_id: job.id,
			work_id: job.workId,
			commitment: expect.any(String),
			network_fee_credits: 2,
			total_deposit_credits: 10,
			service_fee_credits: 5,
			storage_fee_credits: 1,
			total_price_credits: 18,
			is_valid: true,
			expires_at: expect.any(String),
		});
		expect(emulator.registration.debits).toEqual([expect.objectContaining({ credits: 18, network: 'mainnet' })]);
	});

	test('Maximum Price: a higher quote stops before confirm with the quote in the error (nothing debited); an equal one goes on', async () => {
		const above = await run(registerParams({ network: 'mainnet', options: { maximumPrice: 17 } }));
		expect(above.error?.name).toBe('NodeOperationError');
		expect(above.error?.message).toBe('The quote for the registration of "Night Drive" is 18 credits, above the Maximum Price of 17: stopped before confirming, nothing was debited');
		expect((above.error as NodeApiError).description).toMatch(/"total_price_credits":18.*"network_fee_credits":2|"network_fee_credits":2.*"total_price_credits":18/);
		expect(emulator.registration.stats.confirmsAccepted + emulator.registration.stats.confirmsRefused).toBe(0);
		expect(emulator.registration.debits).toEqual([]);
		const free = await run(registerParams({ title: 'Free one', options: { maximumPrice: 0 } }));
		expect(free.error).toBeUndefined();
		const equal = await run(registerParams({ title: 'Priced', network: 'mainnet', options: { maximumPrice: 18 } }));
		expect(equal.error).toBeUndefined();
		expect(emulator.registration.debits.map(({ credits }) => credits)).toEqual([0, 18]);
	});

	test('a quote that is not valid stops before confirm with its reason', async () => {
		emulator.registration.invalidateNextQuote('work already registered on chain');
		const result = await run(registerParams());
		expect(result.error?.message).toBe('Allfeat\'s quote for the registration of "Night Drive" is not valid: work already registered on chain. Nothing was confirmed or debited.');
		expect(emulator.registration.debits).toEqual([]);
	});

	test('refused before init: empty file, file over 500 MB (size from n8n\'s metadata), no binary, no file name, no creator, bad creator, no title, no organization id', async () => {
		const messages: Record<string, string | undefined> = {};
		messages.empty = (await run(registerParams(), [audioItem(Buffer.alloc(0))])).error?.message;
		messages.noBinary = (await run(registerParams(), [{ json: {} }])).error?.message;
		messages.noFileName = (await run(registerParams(), [{ json: {}, binary: { data: { data: AUDIO.toString('base64'), mimeType: 'audio/mpeg' } as IBinaryData } }])).error?.message;
		messages.noCreator = (await run(registerParams({ creators: {} }))).error?.message;
		messages.badCreator = (await run(registerParams({ creators: { creator: [{ fullName: ' ', email: 'not-an-email', roles: [] }] } }))).error?.message;
		messages.noTitle = (await run(registerParams({ title: '={{ $json.nothing }}' }))).error?.message;
		messages.noOrganization = (await run(registerParams(), [audioItem()], { credential: { organizationId: '' } })).error?.message;
		expect(messages).toEqual({
			empty: 'The audio in the binary property "data" is empty',
			noBinary: expect.stringMatching(/data/),
			noFileName: 'The binary property "data" has no file name',
			noCreator: 'No creator given',
			badCreator: 'Creator 1 has no full name, no valid email, no role (author, composer, arranger or adapter)',
			noTitle: 'No title given',
			noOrganization: expect.stringMatching(/^Registering works needs the credential's Organization ID/),
		});
		expect(emulator.registration.stats.inits).toBe(0);
	});

	test('never twice: the same item run again (a retried execution) stops with "probably already submitted", one debit', async () => {
		const first = await run(registerParams({ options: { externalUserRef: 'crm-7' } }));
		expect(first.error).toBeUndefined();
		const again = await run(registerParams({ options: { externalUserRef: 'crm-7' } }));
		const [job] = emulator.registration.allJobs();
		expect(again.error?.name).toBe('NodeOperationError');
		expect(again.error?.message).toBe(
			`The registration of "Night Drive" was probably already submitted: Allfeat answered its Idempotency-Key with job ${job.id} from an earlier run, and its upload URL was already used or expired and it no longer has an upload to prepare. Nothing was submitted or debited now.`,
		);
		expect((again.error as NodeApiError).description).toMatch(new RegExp(`job ${job.id}.*Webhook Trigger.*external_user_ref crm-7.*Idempotency Key \\(this one: n8n-register-[0-9a-f]{64}\\)`));
		expect(emulator.registration.stats).toMatchObject({ inits: 1, idempotentReplays: 1, uploadsAccepted: 1, confirmsAccepted: 1 });
		expect(emulator.registration.debits).toHaveLength(1);
	});

	test('a run that failed after the upload resumes when run again: the same job, no second upload, one debit', async () => {
		emulator.registration.injectError('prepare', { code: 'registration.dry_run_failed', details: { reason: 'chain busy' } });
		const failed = await run(registerParams());
		expect(failed.error?.message).toMatch(/^Allfeat ATS prepare failed: Allfeat's dry run of the registration failed \(reason: chain busy\) \[HTTP 422, registration\.dry_run_failed, request_id req_[0-9a-f]+\]$/);
		expect(emulator.registration.debits).toHaveLength(0);
		const resumed = await run(registerParams());
		expect(resumed.error).toBeUndefined();
		const [job] = emulator.registration.allJobs();
		expect(resumed.items[0]).toMatchObject({ jobId: job.id, transactionId: emulator.registration.debits[0].transactionId });
		expect(emulator.registration.stats).toMatchObject({ inits: 1, idempotentReplays: 1, uploadsAccepted: 1, uploadsRefused: 1 });
		expect(emulator.registration.debits).toHaveLength(1);
	});

	test('n8n\'s Retry On Fail: a try that failed before confirm is resumed by the next (one debit); one whose confirm went through is not confirmed again', async () => {
		const retry = { maxTries: 3, waitBetweenTries: 1 };
		emulator.registration.injectError('prepare', { code: 'registration.dry_run_failed', details: { reason: 'chain busy' } });
		const resumed = await run(registerParams(), [audioItem()], { retryOnFail: retry });
		expect(resumed.error).toBeUndefined();
		expect(resumed.items).toEqual([expect.objectContaining({ transactionId: emulator.registration.debits[0].transactionId })]);
		expect(emulator.registration.stats).toMatchObject({ inits: 1, idempotentReplays: 1, uploadsAccepted: 1 });

		emulator.registration.injectError('confirm', { code: 'common.service_unavailable', afterConfirming: true });
		const lost = await run(registerParams({ title: 'Lost answer' }), [audioItem()], { retryOnFail: retry });
		expect(lost.error?.message).toMatch(/^The registration of "Lost answer" was probably already submitted/);
		// Three tries: the first confirm's answer was lost, the two retries stopped before confirm.
		expect(emulator.registration.stats).toMatchObject({ inits: 2, idempotentReplays: 3, confirmsAccepted: 2 });
		expect(emulator.registration.debits).toHaveLength(2);
	});

	test('two items with the same file in one execution: the second is not submitted (an error item with "On Error: Continue")', async () => {
		const result = await run(registerParams(), [audioItem(), audioItem(), audioItem(Buffer.from('another file'), 'other.mp3')], { continueOnFail: true });
		expect(result.items).toEqual([
			expect.objectContaining({ transactionId: expect.any(String) }),
			{ error: expect.stringMatching(/^Item 1 is the same registration as item 0 of this execution \(Idempotency-Key n8n-register-[0-9a-f]{64}\): it was not submitted twice$/) },
			expect.objectContaining({ transactionId: expect.any(String) }),
		]);
		expect(result.output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(emulator.registration.debits).toHaveLength(2);
		expect(emulator.registration.stats.inits).toBe(2);
	});

	test('Idempotency Key: derived from file, title, network, creators and organization; an expression overrides it; a key older than 24 h no longer replays', async () => {
		await run(registerParams());
		const expected = deriveIdempotencyKey({
			operation: 'registerWork',
			organizationId: emulator.registration.organizationId,
			network: 'testnet',
			fileSha256: sha256(AUDIO),
			title: 'Night Drive',
			creators: [toApiCreator(CREATOR)],
		});
		expect(emulator.registration.idempotencyKeysSeen).toEqual([expected]);
		await run(registerParams({ title: 'Night Drive (live)' }));
		await run(registerParams(), [audioItem(Buffer.from('a different recording'))]);
		await run(registerParams({ network: 'mainnet' }));
		const keys = emulator.registration.idempotencyKeysSeen;
		expect(new Set(keys).size).toBe(4);
		expect(emulator.registration.debits).toHaveLength(4);

		await run(registerParams({ options: { idempotencyKey: '={{ "crm-" + $json.order }}' } }), [audioItem(AUDIO, 'x.mp3', { order: 991 })]);
		expect(emulator.registration.idempotencyKeysSeen.at(-1)).toBe('crm-991');
		expect((await run(registerParams({ options: { idempotencyKey: 'k'.repeat(256) } }))).error?.message).toBe('The Idempotency Key is longer than 255 characters');

		emulator.registration.injectError('confirm', { code: 'common.service_unavailable' });
		expect((await run(registerParams({ title: 'Late' }))).error?.message).toMatch(/common\.service_unavailable/);
		emulator.advanceClock(24 * 60 * 60_000 + 1);
		const later = await run(registerParams({ title: 'Late' }));
		expect(later.error).toBeUndefined();
		expect(emulator.registration.stats.inits).toBe(7);
	});

	test('confirm: a 503 saying nothing was debited is retried; any other 503 is reported, not retried; a lost confirm re-run stops before a second debit', async () => {
		emulator.registration.injectError('confirm', { code: 'common.service_unavailable', details: { debited: false }, retryAfterSeconds: 0 });
		const retried = await run(registerParams());
		expect(retried.error).toBeUndefined();
		expect(emulator.registration.stats).toMatchObject({ confirmsAccepted: 1 });
		expect(emulator.registration.debits).toHaveLength(1);

		emulator.registration.injectError('confirm', { code: 'common.service_unavailable', afterConfirming: true, retryAfterSeconds: 0 });
		const unknown = await run(registerParams({ title: 'Second' }));
		expect(unknown.error?.name).toBe('NodeApiError');
		expect(unknown.error?.message).toMatch(/^Allfeat ATS confirm failed: Allfeat is temporarily unavailable \[HTTP 503, common\.service_unavailable, request_id req_[0-9a-f]+\]$/);
		expect(emulator.registration.debits).toHaveLength(2);
		// n8n's Retry On Fail / a retried execution runs the item again: the first confirm went through.
		const rerun = await run(registerParams({ title: 'Second' }));
		expect(rerun.error?.message).toMatch(/^The registration of "Second" was probably already submitted/);
		expect(emulator.registration.debits).toHaveLength(2);
	});

	test('confirm answered 404 registration.prepared_not_found: probably already submitted, nothing debited', async () => {
		emulator.registration.injectError('confirm', { code: 'registration.prepared_not_found' });
		const result = await run(registerParams());
		expect(result.error?.message).toMatch(/^The registration of "Night Drive" was probably already submitted: .* it has no prepared quote left to confirm/);
		expect(emulator.registration.debits).toEqual([]);
	});

	test('init and prepare are retried on 503 (safe to repeat); three 503 in a row are reported', async () => {
		emulator.registration.injectError('init', { code: 'common.service_unavailable', retryAfterSeconds: 0, times: 2 });
		emulator.registration.injectError('prepare', { code: 'common.service_unavailable', retryAfterSeconds: 0 });
		expect((await run(registerParams())).error).toBeUndefined();
		expect(emulator.registration.stats.inits).toBe(1);
		emulator.registration.injectError('init', { code: 'common.service_unavailable', retryAfterSeconds: 0, times: 3 });
		const down = await run(registerParams({ title: 'Down' }));
		expect(down.error?.message).toMatch(/^Allfeat ATS init failed: Allfeat is temporarily unavailable \[HTTP 503, common\.service_unavailable/);
	});

	test('streams from n8n\'s filesystem binary data store: the length from its metadata, the bytes from disk; an oversized file is refused before init', async () => {
		const storage = mkdtempSync(join(tmpdir(), 'allfeat-binary-'));
		const config = Container.get(BinaryDataConfig);
		const previous = { mode: config.mode, localStoragePath: config.localStoragePath };
		Object.assign(config, { mode: 'filesystem', localStoragePath: storage });
		const service = Container.get(BinaryDataService);
		try {
			await service.init();
			const location = { type: 'execution' as const, workflowId: 'wf-binary', executionId: '1' };
			const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
			const stored = await service.store(location, big, { data: '', mimeType: 'audio/wav', fileName: 'take-3.wav' });
			expect(stored.id).toMatch(/^filesystem-v2:/);
			const result = await run(registerParams(), [{ json: {}, binary: { data: stored } }]);
			expect(result.error).toBeUndefined();
			expect(emulator.registration.allJobs()[0]).toMatchObject({ filename: 'take-3.wav', audio: { sizeBytes: big.length, sha256: sha256(big), contentType: 'audio/wav' } });

			// n8n's metadata says how large the file is: one over 500 MB is refused before anything is sent.
			const huge = await service.store(location, Buffer.from('small on disk'), { data: '', mimeType: 'audio/wav', fileName: 'huge.wav' });
			const metadataPath = `${service.getPath(huge.id!)}.metadata`;
			writeFileSync(metadataPath, JSON.stringify({ ...JSON.parse(readFileSync(metadataPath, 'utf8')), fileSize: 500 * 1024 * 1024 + 1 }));
			const refused = await run(registerParams({ title: 'Huge' }), [{ json: {}, binary: { data: huge } }]);
			expect(refused.error?.message).toBe('The audio in the binary property "data" is 524288001 bytes, over Allfeat\'s limit of 524288000 bytes (500 MB)');
			expect(emulator.registration.stats.inits).toBe(1);
		} finally {
			Object.assign(config, previous);
			rmSync(storage, { recursive: true, force: true });
		}
	});
});

describe('every code of the error envelope', () => {
	const route: Record<string, RegistrationRoute> = {
		'registration.upload_session_not_found': 'prepare',
		'registration.prepared_not_found': 'confirm',
		'registration.dry_run_failed': 'prepare',
		'common.quota_exceeded': 'confirm',
		'common.forbidden': 'confirm',
	};
	const details: Record<string, Record<string, unknown>> = {
		'common.validation_failed': { fields: { 'creators[0].email': 'must be an email address' } },
		'common.quota_exceeded': { resets_at: '2026-12-08T00:00:00.000Z' },
		'registration.audio_too_large': { size_bytes: 600, max_bytes: 500 },
		'api_key.scope_denied': { required: 'works:register' },
		'registration.dry_run_failed': { reason: 'nonce too low' },
	};
	const expectedDetail: Record<string, RegExp> = {
		'common.validation_failed': /\(fields: creators\[0\]\.email: must be an email address\)/,
		'common.quota_exceeded': /\(resets at 2026-12-08T00:00:00\.000Z\)/,
		'registration.audio_too_large': /\(600 bytes, at most 500\)/,
		'api_key.scope_denied': /\(required scope: works:register\)/,
		'registration.dry_run_failed': /\(reason: nonce too low\)/,
	};

	test.each(Object.entries(REGISTRATION_ERROR_STATUS))('%s: a clear message with the code and request_id, the hint as description', async (code, status) => {
		const at = route[code] ?? 'init';
		// A 503 at init or prepare is retried: it has to come three times to be reported.
		emulator.registration.injectError(at, { code, details: details[code], retryAfterSeconds: 0, times: code === 'common.service_unavailable' ? 3 : 1 });
		const result = await run(registerParams());
		const error = result.error as NodeApiError;
		if (code === 'registration.prepared_not_found') {
			expect(error.message).toMatch(/probably already submitted/);
			return;
		}
		expect(error.name).toBe('NodeApiError');
		expect(error.httpCode).toBe(String(status));
		expect(error.message).toMatch(new RegExp(`^Allfeat ATS ${at} failed: .+ \\[HTTP ${status}, ${code.replace(/\./g, '\\.')}, request_id req_[0-9a-f]{12}\\]$`));
		if (expectedDetail[code]) expect(error.message).toMatch(expectedDetail[code]);
		expect(error.description).toEqual(expect.any(String));
		expect(error.message).not.toContain(KEY);
		expect(emulator.registration.debits).toEqual([]);
	});

	test('the real testnet quota: 429 at confirm says when it resets; validation from the service names the field', async () => {
		emulator.registration.setTestnetQuota(0);
		const quota = await run(registerParams());
		expect(quota.error?.message).toBe(
			`Allfeat ATS confirm failed: the testnet quota of the organization is used up (resets at ${emulator.registration.quotaResetsAt()}) [HTTP 429, common.quota_exceeded, request_id ${/request_id (req_[0-9a-f]+)/.exec(quota.error!.message)![1]}]`,
		);
		expect((quota.error as NodeApiError).description).toBe('Wait until the quota resets, or register on mainnet.');
		const invalid = await run(registerParams({ options: { externalUserRef: 'x'.repeat(300) } }));
		expect(invalid.error?.message).toBe('The External User Reference is longer than 255 bytes');
		const serviceSide = await run(registerParams({ title: 'Other', creators: { creator: [{ ...CREATOR, email: 'ada@localhost' }] } }));
		expect(serviceSide.error?.message).toMatch(/^Allfeat ATS init failed: Allfeat refused some fields \(fields: creators\[0\]\.email: must be an email address\) \[HTTP 422, common\.validation_failed/);
	});
});

describe('Add Version', () => {
	test('keeping the registered file: versions/init (no upload), the quote with version_deposit_credits, an add_version transaction', async () => {
		const workId = emulator.registration.addWork();
		const result = await run({ operation: 'addVersion', workId, newFile: false, network: 'mainnet', creators: { creator: [CREATOR] }, options: {} }, [{ json: {} }]);
		expect(result.error).toBeUndefined();
		const [job] = emulator.registration.allJobs();
		expect(job).toMatchObject({ kind: 'add_version', workId, upload: null, audio: null });
		expect(result.items[0]).toMatchObject({ jobId: job.id, quote: expect.objectContaining({ version_deposit_credits: 5, work_id: workId }) });
		expect(emulator.getTransaction(result.items[0].transactionId as string)?.transaction_type).toBe('add_version');
		expect(emulator.registration.idempotencyKeysSeen[0]).toMatch(/^n8n-version-[0-9a-f]{64}$/);
		expect(emulator.registration.stats.uploadsAccepted).toBe(0);
	});

	test('a new file: versions/init-upload with the item\'s audio; Wait Until Final; run again it stops before a second debit', async () => {
		finishConfirmedTransactions();
		const workId = emulator.registration.addWork();
		const parameters = { operation: 'addVersion', workId, newFile: true, binaryPropertyName: 'data', network: 'testnet', creators: { creator: [CREATOR] }, options: { waitUntilFinal: true, timeout: 20 } };
		const result = await run(parameters, [audioItem(Buffer.from('remastered'), 'remaster.mp3')]);
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ status: 'completed', details: expect.objectContaining({ transaction_type: 'add_version' }) });
		expect(emulator.registration.allJobs()[0]).toMatchObject({ filename: 'remaster.mp3', audio: { sha256: sha256(Buffer.from('remastered')) } });
		const again = await run(parameters, [audioItem(Buffer.from('remastered'), 'remaster.mp3')]);
		expect(again.error?.message).toMatch(new RegExp(`^The new version of work ${workId} was probably already submitted`));
		expect(emulator.registration.debits).toHaveLength(1);
	});

	test('a work of another organization is 403 work.access_forbidden; no work id is a clear error', async () => {
		const foreign = emulator.registration.addWork('another-organization');
		const refused = await run({ operation: 'addVersion', workId: foreign, network: 'testnet', creators: { creator: [CREATOR] }, options: {} }, [{ json: {} }]);
		expect(refused.error?.message).toMatch(/^Allfeat ATS versions\/init failed: this work belongs to another organization \[HTTP 403, work\.access_forbidden, request_id req_/);
		const missing = await run({ operation: 'addVersion', workId: '={{ $json.none }}', network: 'testnet', creators: { creator: [CREATOR] }, options: {} }, [{ json: {} }]);
		expect(missing.error?.message).toBe('No work ID given');
	});
});
