import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { installedPackageTemplate } from '../test/e2e/harness/communityPackage';
import { N8nInstance, OWNER } from '../test/e2e/harness/N8nInstance';
import { n8nLine } from '../test/e2e/harness/n8nLines';
import { SandboxWorld, exampleFiles, loadExample, proofWebhookBody } from '../test/e2e/harness/SandboxWorld';
import type { SinkMail, SinkRequest } from '../test/e2e/harness/sink';

/**
 * `npm start`: a real n8n (1.x, the CLI users run) with this package installed as a community
 * package, the three service emulators, the sandbox credentials, and every workflow of examples/
 * imported and active. New proofs, registrations and payouts go in every few seconds, so executions
 * show up in the editor at once; what the workflows send to "Slack", "email" and the "next step"
 * lands at a local sink and is printed here. Ctrl-C stops n8n and everything else.
 *   N8N_PORT=5678 (default)   SANDBOX_EVERY_MS=4000 (default)   N8N_LINE=1.x|2.x (default 1.x)
 */
const PORT = Number(process.env.N8N_PORT ?? 5678);
const EVERY_MS = Number(process.env.SANDBOX_EVERY_MS ?? 4000);
const STEP_MS = 1500;
const LINE = process.env.N8N_LINE === '2.x' ? '2.x' : '1.x';

async function main(): Promise<void> {
	const dir = join(tmpdir(), 'n8n-nodes-onchain-events-sandbox');
	rmSync(dir, { recursive: true, force: true });
	say(`installing the package into a fresh n8n ${LINE} user folder (${dir})…`);
	const n8n = await N8nInstance.create({ line: n8nLine(LINE), dir, packageTemplate: installedPackageTemplate(dir), port: PORT });
	const world = await SandboxWorld.start({ stepMs: STEP_MS, n8nBaseUrl: n8n.baseUrl, deliverAllfeatWebhooks: true });
	let stopping = false;
	const stop = async (code: number) => {
		if (stopping) return;
		stopping = true;
		say('stopping n8n and the emulators…');
		clearInterval(work);
		await n8n.stop();
		await world.close();
		process.exit(code);
	};
	let work: NodeJS.Timeout | undefined;
	process.on('SIGINT', () => void stop(0));
	process.on('SIGTERM', () => void stop(0));
	try {
		say(`starting n8n ${n8n.line.version} on ${n8n.baseUrl} (log: ${n8n.main?.logFile ?? join(dir, 'n8n.log')})…`);
		await n8n.start();
		const credentials = await world.createCredentials(n8n);
		const workflows = await world.deploy(n8n, exampleFiles().map(loadExample), credentials);
		say(`\n  n8n editor: ${n8n.baseUrl}\n  sign in:    ${OWNER.email} / ${OWNER.password}\n`);
		say(`active workflows:\n${workflows.map(({ name }) => `  - ${name}`).join('\n')}\n`);
		say(`emulators: Kurier ${world.kurier.restBaseUrl}, Allfeat ATS ${world.allfeat.baseUrl}, Tachyon ${world.tachyon.baseUrl}`);
		say(`new work every ${EVERY_MS / 1000} s; what the workflows send out is printed below. Ctrl-C to stop.\n`);
		printArrivals(world);
		let round = 0;
		work = setInterval(() => void newWork(n8n, world, round++).catch((error: unknown) => say(`could not start new work: ${String(error)}`)), EVERY_MS);
		await newWork(n8n, world, round++);
	} catch (error) {
		say(`failed: ${error instanceof Error ? error.message : String(error)}`);
		await stop(1);
	}
}

/** One round: a proof, a registration and a payout, every third one failing. */
async function newWork(n8n: N8nInstance, world: SandboxWorld, round: number): Promise<void> {
	const fails = round % 3 === 2;
	await n8n.postWebhook('kurier-proof', proofWebhookBody({ rejected: fails, publicSignal: String(round) }));
	const registration = world.allfeat.createTransaction(fails ? { failAt: 'confirming' } : {});
	await n8n.postWebhook('allfeat-registration', { transaction_id: registration.id });
	await n8n.postWebhook('tachyon-payout', { chainId: 8453, to: '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49', value: String(1000 + round), label: `payout ${round}` });
	// A relay that needs a retry, or fails: what the Tachyon alert example is for.
	world.tachyon.submit(world.secrets.tachyonApiKey, { chainId: 8453, label: `batch ${round}`, willRetry: fails ? 0 : 1, willFail: fails });
	say(`round ${round}: proof${fails ? ' (invalid)' : ''} → kurier-proof webhook, registration ${registration.id.slice(0, 8)}${fails ? ' (will fail)' : ''} → allfeat-registration webhook, payout → tachyon-payout webhook`);
}

function printArrivals(world: SandboxWorld): void {
	let requests = 0;
	let mails = 0;
	world.sink.onArrival(() => {
		for (const request of world.sink.requests.slice(requests)) say(`  ← ${describeRequest(request)}`);
		for (const mail of world.sink.mails.slice(mails)) say(`  ← ${describeMail(mail)}`);
		requests = world.sink.requests.length;
		mails = world.sink.mails.length;
	});
}

function describeRequest(request: SinkRequest): string {
	const body = request.body as Record<string, unknown>;
	if (request.path === '/slack') return `Slack: ${String(body.text)}`;
	return `${request.path}: ${JSON.stringify(body).slice(0, 160)}`;
}

function describeMail(mail: SinkMail): string {
	return `email to ${mail.to.join(', ')}: ${mail.subject}`;
}

function say(text: string): void {
	console.log(text);
}

void main();
