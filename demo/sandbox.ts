// First: n8n-core reads N8N_USER_FOLDER (and the log level) the moment it is loaded.
import '../test/setup/env';

import { randomBytes } from 'node:crypto';

import { KURIER_STATUS_SEQUENCE_NO_CHAIN, KURIER_STATUS_SEQUENCE_WITH_CHAIN, KurierEmulator } from '../emulators/kurier';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { activateTrigger, engineLogs } from '../test/helpers/n8nEngine';
import type { ActiveTrigger } from '../test/helpers/n8nEngine';

/**
 * Sandbox: the Kurier emulator (jobs step by themselves every STEP_MS) and the Kurier Trigger (All Jobs)
 * in n8n's engine. Proofs go in through the real REST API; every emitted item is printed as it arrives.
 * Midway every socket is killed just before a step, so that step must come back through the trigger's
 * REST reconcile. At the end each job's items are checked against what the emulator really did: exit 1
 * on a duplicate, a reordering, or a status lost other than by "it came and went while disconnected".
 *   npm start  (one run, ~6 s)      npm start -- --forever  (a new proof every 3 s until Ctrl-C)
 */
const STEP_MS = 600;
const FOREVER = process.argv.includes('--forever');
// Random and never printed; the demo also checks that no item or log line contains it.
const API_KEY = `demo-${randomBytes(12).toString('hex')}`;
// Kill the sockets this long before the jobs' next step: the reconnect (backoff 250–500 ms) cannot beat it.
const DROP_BEFORE_STEP_MS = 200;
// After resubscribing the trigger asks REST for every unfinished job; allow it this long.
const RECONCILE_SLACK_MS = 300;

interface Proof { label: string; proofType: string; proof: string; chainId?: number; expected: readonly string[] }
const PROOFS: Proof[] = [
	{ label: 'groth16', proofType: 'groth16', proof: '0x1a2b', expected: KURIER_STATUS_SEQUENCE_NO_CHAIN },
	{ label: 'ultrahonk → chain 84532', proofType: 'ultrahonk', proof: '0x3c4d', chainId: 84532, expected: KURIER_STATUS_SEQUENCE_WITH_CHAIN },
	// The emulator fails any proof whose JSON contains "invalid".
	{ label: 'invalid proof', proofType: 'groth16', proof: '0xinvalid', expected: ['Queued', 'Valid', 'Failed'] },
	{ label: 'risc0', proofType: 'risc0', proof: '0x5e6f', expected: KURIER_STATUS_SEQUENCE_NO_CHAIN },
];

interface Job { label: string; expected: readonly string[]; history: Array<{ status: string; at: number }> }
const jobs = new Map<string, Job>();
const problems: string[] = [];
const say = (line: string) => console.log(line.split(API_KEY).join('[redacted]'));
const clock = (at = Date.now()) => new Date(at).toISOString().slice(11, 23);
const short = (value: string | null, length = 8) => (value ? `${value.slice(0, length)}…` : '–');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Set on Ctrl-C / SIGTERM: every wait below stops early, then the run judges and shuts down cleanly.
let stopRequested = false;
let printing = true; // the printer loop runs until main() is done
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (stopRequested = true));
const waitUntil = async (done: () => boolean, timeoutMs: number, pollMs = 5) => {
	for (const end = Date.now() + timeoutMs; !done() && !stopRequested && Date.now() < end; ) await sleep(pollMs);
	return done();
};

async function main(): Promise<void> {
	const emulator = await KurierEmulator.start({ apiKeys: [API_KEY], stepMs: STEP_MS });
	let trigger: ActiveTrigger | undefined;
	let refereeTimer: NodeJS.Timeout | undefined;
	try {
		say(`Kurier emulator on ${emulator.restBaseUrl}, jobs step every ${STEP_MS} ms${FOREVER ? '; Ctrl-C to stop' : ''}`);
		trigger = await activateTrigger({
			nodeType: new KurierTrigger(),
			parameters: { event: 'allJobs', statuses: [] },
			credentials: { kurierApi: { environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey: API_KEY } },
		});
		say('Kurier Trigger (All Jobs) active in n8n\'s engine\n');
		await run(emulator, trigger, (timer) => (refereeTimer = timer));
	} finally {
		printing = false;
		clearInterval(refereeTimer);
		await trigger?.deactivate();
		await emulator.close();
	}
}

async function run(emulator: KurierEmulator, trigger: ActiveTrigger, keepTimer: (timer: NodeJS.Timeout) => void): Promise<void> {
	// The referee: what the emulator really did, read from its state (updatedAt is the exact step time).
	const referee = () => {
		for (const [id, job] of jobs) {
			const last = job.history.at(-1);
			if (last?.status === job.expected.at(-1)) continue;
			const now = emulator.getJob(id);
			if (now && last?.status !== now.status) job.history.push({ status: now.status, at: Date.parse(now.updatedAt) });
		}
	};
	keepTimer(setInterval(referee, 20));

	// Print items as they come (waitForItems wakes on every emit), and the node's warnings.
	let printed = 0;
	const viaRest = new Set<string>();
	/** Returns true while it holds back an item whose job is not known yet. */
	const printNew = (): boolean => {
		for (const { level, message } of engineLogs.lines.splice(0)) {
			if (message.includes(API_KEY)) problems.push(`the API key appeared in a ${level} log line`);
			const rest = /^Kurier job (\S+) is (\S+) \(via rest\)$/.exec(message);
			if (rest) viaRest.add(`${rest[1]}:${rest[2]}`);
			if (level === 'warn' || level === 'error') say(`${clock()}  n8n ${level}: ${message}`);
		}
		for (const item of trigger.items().slice(printed) as unknown as NormalizedItem[]) {
			const job = jobs.get(item.id);
			// A job's first item usually beats the submit-proof answer: hold it briefly to print its label.
			if (!job && Date.now() - Date.parse(item.receivedAt) < 1000) return true;
			printed += 1;
			const how = viaRest.delete(`${item.id}:${item.status}`) ? '  ← REST reconcile' : '';
			say(`${item.receivedAt.slice(11, 23)}  ${short(item.id)}  ${item.status.padEnd(18)} ${item.phase.padEnd(9)} ` +
				`final=${item.isFinal ? 'yes' : 'no '}  tx ${short(item.txHash, 10).padEnd(11)}  ${job?.label ?? 'unknown job'}${how}`);
		}
		return false;
	};
	const printer = (async () => {
		while (printing) {
			await trigger.waitForItems(printed + 1, 100).catch(() => undefined);
			// While holding an item back, waitForItems resolves at once: sleep, or this loop starves the event loop.
			if (printNew()) await sleep(10);
		}
	})();

	const submit = async ({ label, proofType, proof, chainId, expected }: Proof) => {
		const body = JSON.stringify({ proofType, vkRegistered: false, chainId, proofData: { proof, publicSignals: ['0x01'], vk: { demo: label } } });
		const response = await fetch(`${emulator.restBaseUrl}/submit-proof/${encodeURIComponent(API_KEY)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
		const answer = (await response.json()) as { jobId?: string; optimisticVerify?: string; message?: string };
		if (!answer.jobId) throw new Error(`submit-proof answered ${response.status}: ${answer.message ?? 'no jobId'}`);
		say(`${clock()}  submitted ${label}: job ${short(answer.jobId)}, optimisticVerify=${answer.optimisticVerify}`);
		jobs.set(answer.jobId, { label, expected, history: [] });
		referee();
		printNew();
	};
	const isDone = (job: Job) => job.history.at(-1)?.status === job.expected.at(-1);

	// 1. Three proofs at once, so their jobs step together.
	await Promise.all(PROOFS.slice(0, 3).map(submit));

	// 2. Once they are Valid, kill every socket (as a network failure would) just before their next step.
	await waitUntil(() => [...jobs.values()].every((job) => job.history.length >= 2), 3000);
	const lastStep = Math.max(...[...jobs.values()].map((job) => job.history.at(-1)?.at ?? 0));
	await sleep(Math.max(0, lastStep + STEP_MS - DROP_BEFORE_STEP_MS - Date.now()));
	const subscribesBefore = emulator.stats.subscribeMessages;
	const dropAt = Date.now();
	emulator.dropAllConnections();
	say(`${clock(dropAt)}  ── dropped every WebSocket connection; the jobs step in ${DROP_BEFORE_STEP_MS} ms ──`);
	const back = await waitUntil(() => emulator.stats.subscribeMessages > subscribesBefore, 5000, 1);
	const resubscribedAt = Date.now();
	if (back) say(`${clock(resubscribedAt)}  ── the trigger reconnected and subscribed again after ${resubscribedAt - dropAt} ms ──`);
	else if (!stopRequested) problems.push('the trigger did not subscribe again within 5 s of the drop');

	// 3. One more proof after the reconnect: new jobs still arrive. --forever keeps adding them.
	await submit(PROOFS[3]);
	for (let next = 0; FOREVER && !stopRequested; next += 1) {
		for (let waited = 0; waited < 3000 && !stopRequested; waited += 100) await sleep(100);
		if (!stopRequested) await submit(PROOFS[next % PROOFS.length]);
	}
	if (!FOREVER && !(await waitUntil(() => [...jobs.values()].every(isDone), 8000))) {
		problems.push(stopRequested ? 'interrupted before every job was final' : 'not every job reached its final status within 8 s');
	}

	// 4. Judge what happened up to now; frames in flight get a moment to arrive.
	referee();
	const stopAt = Date.now();
	await sleep(200);
	printing = false;
	await printer;
	printNew();

	const items = trigger.items() as unknown as NormalizedItem[];
	let recovered = 0; // statuses that happened while disconnected and were emitted anyway
	let superseded = 0; // ... and those replaced by a later one before the trigger was back
	say('\nSummary');
	for (const [id, job] of jobs) {
		const statuses = items.filter((item) => item.id === id).map((item) => item.status);
		const happened = job.history.filter((step) => step.at <= stopAt);
		const fail = (what: string) => problems.push(`job ${short(id)} (${job.label}): ${what}`);
		if (job.history.some((step, i) => step.status !== job.expected[i])) fail(`the emulator went ${job.history.map((s) => s.status).join(' → ')}`);
		if (new Set(statuses).size !== statuses.length) fail(`duplicate status: ${statuses.join(', ')}`);
		const positions = statuses.map((status) => job.history.findIndex((step) => step.status === status));
		if (positions.some((p, i) => p < 0 || (i > 0 && p <= positions[i - 1]))) fail(`out of order or unknown: ${statuses.join(', ')}`);
		const finals = items.filter((item) => item.id === id && item.isFinal !== (item.status === job.expected.at(-1)));
		if (finals.length > 0) fail(`isFinal wrong on ${finals.map((item) => item.status).join(', ')}`);
		happened.forEach((step, i) => {
			const inGap = step.at >= dropAt && step.at <= resubscribedAt;
			if (statuses.includes(step.status)) {
				if (inGap) recovered += 1;
				return;
			}
			// Excusable only if it came AND went while the trigger could not see it (REST knows only the latest).
			const nextAt = happened[i + 1]?.at ?? Number.POSITIVE_INFINITY;
			if (step.at >= dropAt && nextAt <= resubscribedAt + RECONCILE_SLACK_MS) superseded += 1;
			else fail(`missing ${step.status} (it happened at ${clock(step.at)})`);
		});
		say(`  ${short(id)}  ${job.label.padEnd(24)} ${statuses.length}/${job.expected.length} statuses: ${statuses.join(' → ')}${isDone(job) ? '' : ' (not final yet)'}`);
	}
	const connections = emulator.stats.connectionsAccepted;
	say(`  ${items.length} items in ${trigger.emissions.length} executions for ${jobs.size} jobs; ${connections} connections, back ${resubscribedAt - dropAt} ms after the drop`);
	say(`  statuses that happened while disconnected: ${recovered} recovered by the REST reconcile` +
		(superseded > 0 ? `, ${superseded} replaced by a later one before the trigger was back (REST only knows the latest)` : ''));
	if (trigger.errors.length > 0) problems.push(`the trigger reported errors: ${trigger.errors.map((e) => e.message).join('; ')}`);
	if (JSON.stringify(items).includes(API_KEY)) problems.push('the API key appeared in an emitted item');
}

main()
	.catch((error: unknown) => problems.push(`crashed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`))
	.finally(() => {
		if (problems.length === 0) return say('  OK: every status once and in order; nothing lost or duplicated across the reconnect');
		console.error(`\nFAILED:\n  - ${problems.join('\n  - ')}`.split(API_KEY).join('[redacted]'));
		process.exitCode = 1;
	});
