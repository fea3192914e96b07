import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import type { N8nInstance } from './harness/N8nInstance';
import { E2E_WORK_DIR, selectedLines } from './harness/n8nLines';
import { waitUntil } from './harness/processes';
import { postgresQuery, startPostgres, startRedis } from './harness/queueServices';
import type { PostgresServer, RedisServer } from './harness/queueServices';
import { loadExample } from './harness/SandboxWorld';
import type { SandboxWorld } from './harness/SandboxWorld';
import { startScenario, stopScenario } from './harness/scenario';
import type { RunningScenario } from './harness/scenario';

/**
 * The Register Work examples in the n8n users run, regular and queue mode: an audio file downloaded
 * over HTTP is registered through the emulator's registration API (init → presigned upload →
 * quote → confirm), then either waited for and emailed (examples/allfeat-register-and-email.json)
 * or handed on and followed by the signed webhook (examples/allfeat-register-then-webhook.json with
 * examples/allfeat-webhook-to-email.json). Binary data lives where n8n supports it in each mode:
 * on disk (`filesystem`) in regular mode, in the database (`database`) in queue mode, where n8n does
 * not support `filesystem`; the upload then runs on the worker.
 */
const STEP_MS = 300;
const DELIVERY_TIMEOUT_MS = 60_000;
const EXAMPLES = ['allfeat-register-and-email.json', 'allfeat-register-then-webhook.json', 'allfeat-webhook-to-email.json'];

const BINARY_MODE = {
	regular: { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' },
	// 1.x lists the modes it may use (2.x always offers database); queue mode's is the database.
	queue: { N8N_AVAILABLE_BINARY_DATA_MODES: 'filesystem,database', N8N_DEFAULT_BINARY_DATA_MODE: 'database' },
};

describe.each(selectedLines())('n8n %s: Register Work examples', (lineName) => {
	describe.each(['regular', 'queue'] as const)('%s mode', (mode) => {
		let redis: RedisServer | undefined;
		let postgres: PostgresServer | undefined;
		let scenario: RunningScenario;
		let world: SandboxWorld;
		let n8n: N8nInstance;

		beforeAll(async () => {
			if (mode === 'queue') {
				const dir = join(E2E_WORK_DIR, `allfeat-registration-services-${lineName}`);
				[redis, postgres] = await Promise.all([startRedis(join(dir, 'redis')), startPostgres(join(dir, 'postgres'))]);
			}
			scenario = await startScenario({
				lineName,
				name: `allfeat-registration-${mode}`,
				stepMs: STEP_MS,
				queue: redis && postgres ? { redis, postgres } : undefined,
				env: BINARY_MODE[mode],
				deliverAllfeatWebhooks: true,
				workflows: () => EXAMPLES.map(loadExample),
				connections: { kurier: 0, tachyon: 0 },
			});
			({ world, n8n } = scenario);
		});

		afterAll(async () => {
			await stopScenario(scenario);
			await Promise.all([redis?.process.stop(), postgres?.process.stop()]);
		});

		test('allfeat-register-and-email.json: downloaded, registered once, waited for; the right email for completed and failed', async () => {
			const audio = Buffer.from(`ID3 ${mode} ${lineName} ${'♪'.repeat(4000)}`);
			const url = world.sink.serveFile(`/files/${mode}-night-drive.mp3`, audio, 'night-drive.mp3');
			await n8n.postWebhook('allfeat-register-audio', { audio_url: url, title: `Night Drive (${mode})`, creator_name: 'Ada Lovelace', creator_email: 'ada@example.com', reference: `crm-${mode}-1` });
			await world.sink.waitFor('the registered email', () => world.sink.mails.some((mail) => mail.subject.startsWith(`Work registered: Night Drive (${mode})`)), DELIVERY_TIMEOUT_MS);
			const job = world.allfeat.registration.allJobs().find((candidate) => candidate.title === `Night Drive (${mode})`)!;
			expect(job).toMatchObject({ network: 'testnet', filename: 'night-drive.mp3', externalUserRef: `crm-${mode}-1`, audio: { sizeBytes: audio.length } });
			const transaction = world.allfeat.getTransaction(job.transactionId!)!;
			const mail = world.sink.mails.find((candidate) => candidate.subject.startsWith(`Work registered: Night Drive (${mode})`))!;
			expect(mail.subject).toBe(`Work registered: Night Drive (${mode}) (ATS ${String(transaction.result!.ats_id)})`);
			expect(mail.text).toContain(`Transaction ${job.transactionId} completed on testnet.`);
			expect(mail.text).toContain(`Work: ${job.workId}`);

			world.allfeat.confirmedTransactionsFailAt = 'submitting';
			try {
				const other = world.sink.serveFile(`/files/${mode}-b-side.mp3`, Buffer.from(`B side ${mode} ${lineName}`), 'b-side.mp3');
				await n8n.postWebhook('allfeat-register-audio', { audio_url: other, title: `B Side (${mode})`, creator_name: 'Ada Lovelace', creator_email: 'ada@example.com', reference: `crm-${mode}-2` });
				await world.sink.waitFor('the failure email', () => world.sink.mails.some((candidate) => candidate.subject === `Work registration failed: B Side (${mode})`), DELIVERY_TIMEOUT_MS);
			} finally {
				world.allfeat.confirmedTransactionsFailAt = null;
			}
			const failure = world.sink.mails.find((candidate) => candidate.subject === `Work registration failed: B Side (${mode})`)!;
			expect(failure.text).toContain('failed: Insufficient balance');
			expect(failure.text).toContain('Steps: validating → preparing_transaction → signing → failed');

			// The same request again (a user's double submit): Allfeat replays the first init, nothing is debited twice.
			const debits = world.allfeat.registration.debits.length;
			await n8n.postWebhook('allfeat-register-audio', { audio_url: url, title: `Night Drive (${mode})`, creator_name: 'Ada Lovelace', creator_email: 'ada@example.com', reference: `crm-${mode}-1` });
			// Replayed init, refused upload (its single-use URL was used), prepare answered 404: the node stops there.
			await waitUntil('the replay to stop at prepare', () => world.allfeat.registration.stats.idempotentReplays >= 1 && world.allfeat.registration.stats.prepares >= 3, DELIVERY_TIMEOUT_MS);
			expect(world.allfeat.registration.debits).toHaveLength(debits);
			expect(world.allfeat.registration.stats.uploadsWithAuthorization).toBe(0);
		});

		test('allfeat-register-then-webhook.json: the transaction id is handed on at once; the signed work_registered webhook sends the email', async () => {
			const url = world.sink.serveFile(`/files/${mode}-follow.mp3`, Buffer.from(`follow me ${mode} ${lineName}`), 'follow.mp3');
			await n8n.postWebhook('allfeat-register-follow', { audio_url: url, title: `Follow (${mode})`, creator_name: 'Grace Hopper', creator_email: 'grace@example.com', reference: `crm-${mode}-3` });
			await world.sink.waitFor('the handed-on transaction', () => world.sink.requestsTo('/next-step').some((request) => typeof (request.body as { transactionId?: unknown }).transactionId === 'string'), DELIVERY_TIMEOUT_MS);
			const handed = world.sink.requestsTo('/next-step').find((request) => typeof (request.body as { transactionId?: unknown }).transactionId === 'string')!.body as Record<string, unknown>;
			const job = world.allfeat.registration.allJobs().find((candidate) => candidate.title === `Follow (${mode})`)!;
			expect(handed).toEqual({ transactionId: job.transactionId, jobId: job.id, statusUrl: `${world.allfeat.baseUrl}/v1/transactions/${job.transactionId}`, workId: job.workId, priceCredits: 0 });
			await world.sink.waitFor('the webhook email', () => world.sink.mails.some((mail) => mail.subject === `Allfeat ATS work_registered: ${job.transactionId}`), DELIVERY_TIMEOUT_MS);
			expect(world.sink.mails.filter((mail) => mail.subject.includes(job.transactionId!))).toHaveLength(1);
		});

		test('binary data stayed where the mode keeps it; no key in any log', () => {
			// n8n's filesystem store keeps a `<file id>.metadata` beside each file (1.x under binaryData/, 2.x under storage/).
			if (mode === 'regular') expect(storedBinaries(join(n8n.options.dir, 'user', '.n8n'))).toBeGreaterThanOrEqual(3);
			else {
				// The downloaded files went to n8n's database (its binary_data table), not to the worker's disk.
				expect(Number(postgresQuery(postgres!, 'select count(*) from binary_data'))).toBeGreaterThanOrEqual(3);
				expect(storedBinaries(join(n8n.options.dir, 'worker-user', '.n8n'))).toBe(0);
				expect(n8n.worker?.log()).toMatch(/Worker finished execution/);
			}
			const logs = n8n.logs();
			for (const secret of world.secretValues()) expect({ secret: secret.slice(0, 6), found: logs.includes(secret) }).toEqual({ secret: secret.slice(0, 6), found: false });
		});
	});
});

function storedBinaries(n8nFolder: string): number {
	if (!existsSync(n8nFolder)) return 0;
	return readdirSync(n8nFolder, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile() && entry.name.endsWith('.metadata')).length;
}
