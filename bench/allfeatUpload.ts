import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

import { installedPackageTemplate } from '../test/e2e/harness/communityPackage';
import { N8nInstance } from '../test/e2e/harness/N8nInstance';
import { E2E_WORK_DIR, n8nLine } from '../test/e2e/harness/n8nLines';
import { waitUntil } from '../test/e2e/harness/processes';
import { SandboxWorld } from '../test/e2e/harness/SandboxWorld';
import { linear, packageNode, postItemNode, webhookNode } from '../test/e2e/harness/workflows';

/**
 * A large registration through the n8n users run, with n8n's filesystem binary mode: Webhook → Read
 * File from disk (into n8n's binary data store) → Allfeat ATS Register Work → HTTP Request to the
 * sink, against the Allfeat emulator. Prints the wall time and n8n's resident memory (RSS, read
 * from /proc every 20 ms): idle before the run, and its peak during Register Work's hash + upload
 * (from just before `init` to `confirm`) and during the upload alone. The node must not hold the
 * file: the peak growth should stay far below the file size.
 *
 *   npm run build && npx ts-node --transpile-only bench/allfeatUpload.ts [1.x|2.x] [megabytes] [filesystem|default]
 *
 * Needs the e2e install (test/e2e/install.sh); uses its work folder, so not while an e2e run is going.
 */
const lineName = (process.argv[2] ?? '1.x') as '1.x' | '2.x';
const megabytes = Number(process.argv[3] ?? 200);
/** `default` (1.x only: binaries inside the item, in memory) is the control: there the file is in n8n's memory anyway. */
const binaryMode = process.argv[4] ?? 'filesystem';
const MB = 1024 * 1024;

interface Sample {
	at: number;
	rssKiB: number;
}

async function main(): Promise<void> {
	const dir = join(E2E_WORK_DIR, `bench-allfeat-upload-${lineName}`);
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	const filesDir = join(dir, 'files');
	mkdirSync(filesDir, { recursive: true });
	const audioPath = join(filesDir, `take-${megabytes}mb.wav`);
	writeAudio(audioPath, megabytes * MB);

	const n8n = await N8nInstance.create({
		line: n8nLine(lineName),
		dir,
		packageTemplate: installedPackageTemplate(E2E_WORK_DIR),
		env: { N8N_DEFAULT_BINARY_DATA_MODE: binaryMode, N8N_RESTRICT_FILE_ACCESS_TO: filesDir, N8N_LOG_LEVEL: 'info' },
	});
	const world = await SandboxWorld.start({ stepMs: 300 });
	const marks: Record<string, number> = {};
	world.allfeat.onRestRequest = (req) => {
		const url = req.url ?? '';
		if (url.endsWith('/works/init')) marks.init ??= Date.now();
		if (req.method === 'PUT' && url.startsWith('/uploads/')) {
			marks.uploadStart ??= Date.now();
			req.once('end', () => (marks.uploadEnd ??= Date.now()));
		}
		if (url.endsWith('/works/confirm')) marks.confirm ??= Date.now();
	};
	const samples: Sample[] = [];
	let sampler: NodeJS.Timeout | undefined;
	try {
		await n8n.start();
		const credentials = await world.createCredentials(n8n);
		const workflow = linear('Bench: read a large file, register it', [
			webhookNode('Webhook', 'bench-allfeat-upload'),
			{
				id: 'read-file',
				name: 'Read the audio',
				type: 'n8n-nodes-base.readWriteFile',
				typeVersion: 1,
				position: [220, 0],
				parameters: { operation: 'read', fileSelector: '={{ $json.body.path }}', options: {} },
			},
			packageNode(
				'Register Work',
				'allfeatAts',
				{ operation: 'registerWork', binaryPropertyName: 'data', title: 'Large take', network: 'mainnet', creators: { creator: [{ fullName: 'Ada Lovelace', email: 'ada@example.com', roles: ['author'] }] }, options: {} },
				'allfeatAtsApi',
				[440, 0],
			),
			postItemNode('To sink', world.sink.url('/bench-done'), [660, 0]),
		]);
		await world.deploy(n8n, [workflow], credentials);
		const pid = n8n.main!.child.pid!;
		sampler = setInterval(() => samples.push({ at: Date.now(), rssKiB: rssKiB(pid) }), 20);
		await new Promise((resolve) => setTimeout(resolve, 2_000));
		const idle = Math.max(...samples.map((sample) => sample.rssKiB));
		const started = Date.now();
		await n8n.postWebhook('bench-allfeat-upload', { path: audioPath });
		await world.sink.waitFor('the registration', () => world.sink.requestsTo('/bench-done').length > 0, 600_000);
		const ended = Date.now();
		await waitUntil('one more sample', () => samples.some((sample) => sample.at > ended), 5_000);
		clearInterval(sampler);
		const done = world.sink.requestsTo('/bench-done')[0].body as Record<string, unknown>;
		const [job] = world.allfeat.registration.allJobs();
		const peak = (from: number, to: number) => Math.max(...samples.filter((sample) => sample.at >= from && sample.at <= to).map((sample) => sample.rssKiB));
		const beforeInit = samples.filter((sample) => sample.at <= marks.init).at(-1)?.rssKiB ?? idle;
		const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
		const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
		const rows = [
			['n8n', `${lineName} (${n8n.line.version}), regular mode, N8N_DEFAULT_BINARY_DATA_MODE=${binaryMode}`],
			['file', `${megabytes} MiB (${job.audio?.sizeBytes} bytes received by the emulator, SHA-256 ${job.audio?.sha256.slice(0, 12)}…)`],
			['result', `transaction ${String(done.transactionId)}, ${String((done.quote as { total_price_credits: number }).total_price_credits)} credits quoted`],
			['wall time, webhook → item at the sink', seconds(ended - started)],
			['  of which Read File (webhook → init, incl. the idempotency hash)', seconds(marks.init - started)],
			['  of which upload (PUT start → end)', seconds(marks.uploadEnd - marks.uploadStart)],
			['  of which prepare + confirm + hand-on', seconds(ended - marks.uploadEnd)],
			['n8n RSS idle (before the run)', mib(idle)],
			['n8n RSS peak over the whole execution', `${mib(peak(started, ended))} (+${mib(peak(started, ended) - idle)})`],
			['n8n RSS just before init', mib(beforeInit)],
			['n8n RSS peak during the upload (PUT start → end)', `${mib(peak(marks.uploadStart, marks.uploadEnd))} (+${mib(peak(marks.uploadStart, marks.uploadEnd) - idle)} over idle, +${mib(peak(marks.uploadStart, marks.uploadEnd) - beforeInit)} over just before init)`],
			['samples', String(samples.length)],
		];
		for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
	} finally {
		if (sampler) clearInterval(sampler);
		await n8n.stop();
		await world.close();
		rmSync(filesDir, { recursive: true, force: true });
	}
}

/** A file of `size` bytes (random blocks, so nothing along the way can compress it away). */
function writeAudio(path: string, size: number): void {
	const block = randomBytes(MB);
	const fd = openSync(path, 'w');
	try {
		for (let written = 0; written < size; written += block.length) writeSync(fd, block, 0, Math.min(block.length, size - written));
	} finally {
		closeSync(fd);
	}
}

function rssKiB(pid: number): number {
	const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return match ? Number(match[1]) : 0;
}

main().catch((error: unknown) => {
	console.error(error);
	process.exitCode = 1;
});
