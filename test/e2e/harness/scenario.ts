import { join } from 'node:path';

import { installedPackageTemplate } from './communityPackage';
import { N8nInstance } from './N8nInstance';
import type { CreatedWorkflow } from './N8nInstance';
import { E2E_WORK_DIR, n8nLine } from './n8nLines';
import { waitUntil } from './processes';
import type { PostgresServer, RedisServer } from './queueServices';
import { SandboxWorld } from './SandboxWorld';
import type { WorkflowJson } from './SandboxWorld';
import { createAllfeatTransactions } from './transitions';
import type { ExpectedTransitions } from './transitions';

/**
 * The start every e2e suite with active workflows shares: a fresh n8n with the package, the
 * emulators, the sandbox credentials, Allfeat transactions for the fixed-id trigger, the workflows
 * deployed and active, and the stream triggers connected.
 */
export interface RunningScenario {
	n8n: N8nInstance;
	world: SandboxWorld;
	deployed: CreatedWorkflow[];
	/** What the Allfeat ATS Trigger (fixed ids) must deliver. */
	allfeatStreamed: ExpectedTransitions[];
	/** When the triggers were all connected: transitions from then on are live, not recovered. */
	liveSince: number;
}

export interface ScenarioOptions {
	lineName: '1.x' | '2.x';
	/** Names the instance's folder under the e2e work folder. */
	name: string;
	stepMs: number;
	queue?: { redis: RedisServer; postgres: PostgresServer };
	workflows: (world: SandboxWorld, allfeatTransactionIds: string[]) => WorkflowJson[];
	/** Extra environment for n8n (e.g. HTTP_PROXY). */
	env?: Record<string, string>;
	/** Allfeat's emulator delivers its signed webhooks to this n8n (examples/allfeat-webhook-to-email.json). */
	deliverAllfeatWebhooks?: boolean;
	/** Sockets that must be open at the emulators before the scenario counts as started. */
	connections: { kurier: number; tachyon: number };
}

export async function startScenario(options: ScenarioOptions): Promise<RunningScenario> {
	const dir = join(E2E_WORK_DIR, `${options.name}-${options.lineName}`);
	const n8n = await N8nInstance.create({ line: n8nLine(options.lineName), dir, packageTemplate: installedPackageTemplate(E2E_WORK_DIR), queue: options.queue, env: options.env });
	const world = await SandboxWorld.start({ stepMs: options.stepMs, n8nBaseUrl: n8n.baseUrl, deliverAllfeatWebhooks: options.deliverAllfeatWebhooks });
	const scenario: RunningScenario = { n8n, world, deployed: [], allfeatStreamed: [], liveSince: 0 };
	try {
		await n8n.start();
		const credentials = await world.createCredentials(n8n);
		// Created just before activation: their first steps happen before the trigger connects
		// (recovered from the REST history), the rest live.
		scenario.allfeatStreamed = createAllfeatTransactions(world);
		scenario.deployed = await world.deploy(n8n, options.workflows(world, scenario.allfeatStreamed.map(({ id }) => id)), credentials);
		const { kurier, tachyon } = options.connections;
		await waitUntil('the stream triggers to connect', () => world.kurier.openConnectionCount() >= kurier && world.tachyon.openConnectionCount() >= tachyon, 30_000);
		scenario.liveSince = Date.now();
		return scenario;
	} catch (error) {
		await stopScenario(scenario);
		throw error;
	}
}

export async function stopScenario(scenario: Partial<RunningScenario> | undefined): Promise<void> {
	await scenario?.n8n?.stop();
	await scenario?.world?.close();
}
