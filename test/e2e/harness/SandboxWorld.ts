import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { AllfeatEmulator, newWebhookSecret } from '../../../emulators/allfeat';
import { KurierEmulator } from '../../../emulators/kurier';
import { TachyonEmulator } from '../../../emulators/tachyon';
import type { CreatedWorkflow, N8nInstance } from './N8nInstance';
import { Sink } from './sink';

/**
 * Everything a real n8n with this package talks to in the e2e tests and in `npm start`: the three
 * service emulators and the sink that stands in for Slack (an incoming-webhook URL), the "next step"
 * HTTP call and the SMTP server. It knows the sandbox credentials and turns the importable
 * `examples/*.json` into workflows wired to them.
 */

export const EXAMPLES_DIR = resolve(__dirname, '../../../examples');
/** What the examples call; the sandbox sends it to the sink instead. */
const SLACK_WEBHOOK_URL = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
const NEXT_STEP_URL = 'https://example.com/next-step';
export const PACKAGE_PREFIX = 'n8n-nodes-onchain-events.';

export interface WorkflowJson {
	name: string;
	nodes: Array<{ name: string; type: string; parameters: Record<string, unknown>; credentials?: Record<string, { id: string; name: string }>; [key: string]: unknown }>;
	connections: Record<string, unknown>;
	settings?: Record<string, unknown>;
}

export interface SandboxWorldOptions {
	/** Every job / transaction moves one status this often. */
	stepMs: number;
	/** Where n8n will listen: Allfeat's emulator delivers its signed webhooks there when `deliverAllfeatWebhooks`. */
	n8nBaseUrl?: string;
	deliverAllfeatWebhooks?: boolean;
	ports?: { kurier?: number; allfeat?: number; tachyon?: number; sinkHttp?: number; sinkSmtp?: number };
}

export class SandboxWorld {
	readonly secrets = {
		kurierApiKey: `kurier-sandbox-${randomHex()}`,
		/** A second Kurier key, for a credential a test revokes. */
		kurierSpareKey: `kurier-spare-${randomHex()}`,
		allfeatApiKey: `afo_sk_sandbox_${randomHex()}`,
		allfeatWebhookSecret: newWebhookSecret(),
		tachyonApiKey: `tachyon-sandbox-${randomHex()}`,
		tachyonJwt: `eyJsandbox.${randomHex()}.jwt`,
		tachyonWsKey: `ws_sandbox_${randomHex()}`,
	};

	kurier!: KurierEmulator;
	allfeat!: AllfeatEmulator;
	tachyon!: TachyonEmulator;
	sink!: Sink;

	private constructor(readonly options: SandboxWorldOptions) {}

	static async start(options: SandboxWorldOptions): Promise<SandboxWorld> {
		const world = new SandboxWorld(options);
		const { stepMs, ports = {} } = options;
		const secrets = world.secrets;
		try {
			world.sink = await Sink.start({ http: ports.sinkHttp, smtp: ports.sinkSmtp });
			world.kurier = await KurierEmulator.start({ port: ports.kurier, apiKeys: [secrets.kurierApiKey, secrets.kurierSpareKey], stepMs });
			world.allfeat = await AllfeatEmulator.start({
				port: ports.allfeat,
				stepMs,
				apiKeys: [secrets.allfeatApiKey],
				webhook: options.deliverAllfeatWebhooks && options.n8nBaseUrl ? { url: allfeatWebhookUrl(options.n8nBaseUrl), secretBase64: secrets.allfeatWebhookSecret } : undefined,
			});
			world.tachyon = await TachyonEmulator.start({
				port: ports.tachyon,
				stepMs,
				frameShape: 'notification',
				accounts: [{ apiKey: secrets.tachyonApiKey, dashboardJwt: secrets.tachyonJwt, wsKey: secrets.tachyonWsKey }],
			});
		} catch (error) {
			await world.close();
			throw error;
		}
		return world;
	}

	/** Every secret the sandbox hands n8n: none may ever show in n8n's logs. */
	secretValues(): string[] {
		return Object.values(this.secrets);
	}

	/** The sandbox credentials, keyed by credential type, as n8n's credential form would save them. */
	credentials(): Record<string, { name: string; data: Record<string, unknown> }> {
		const { secrets } = this;
		return {
			kurierApi: { name: 'Kurier (sandbox)', data: { environment: 'custom', baseUrl: this.kurier.restBaseUrl, apiKey: secrets.kurierApiKey } },
			allfeatAtsApi: {
				name: 'Allfeat ATS (sandbox)',
				data: {
					baseUrl: 'custom',
					customBaseUrl: this.allfeat.baseUrl,
					apiKey: secrets.allfeatApiKey,
					webhookSecret: secrets.allfeatWebhookSecret,
					organizationId: this.allfeat.registration.organizationId,
				},
			},
			tachyonApi: {
				name: 'Tachyon (sandbox)',
				data: { baseUrl: 'custom', customBaseUrl: this.tachyon.baseUrl, apiKey: secrets.tachyonApiKey, dashboardJwt: secrets.tachyonJwt, wsUrl: this.tachyon.wsUrl, wsKey: secrets.tachyonWsKey },
			},
			smtp: { name: 'SMTP (sandbox)', data: { host: '127.0.0.1', port: this.sink.smtpPort, secure: false, disableStartTls: true, user: '', password: '' } },
		};
	}

	/** Creates the sandbox credentials in n8n; answers their ids by credential type. */
	async createCredentials(n8n: N8nInstance): Promise<Record<string, { id: string; name: string }>> {
		const created: Record<string, { id: string; name: string }> = {};
		for (const [type, { name, data }] of Object.entries(this.credentials())) created[type] = { id: await n8n.createCredential(name, type, data), name };
		// n8n's own API, for the "n8n" node of the error-workflow example: a key of this n8n's owner.
		const n8nApi = { name: 'n8n API (sandbox)', data: { apiKey: await n8n.createApiKey('sandbox'), baseUrl: `${n8n.baseUrl}/api/v1` } };
		created.n8nApi = { id: await n8n.createCredential(n8nApi.name, 'n8nApi', n8nApi.data), name: n8nApi.name };
		return created;
	}

	/**
	 * A workflow as n8n will run it here: credentials pointed at the ones created, Slack and "next
	 * step" URLs pointed at the sink (`/slack`, `/next-step`).
	 */
	wire(workflow: WorkflowJson, credentialIds: Record<string, { id: string; name: string }>): WorkflowJson {
		const text = JSON.stringify(workflow).split(SLACK_WEBHOOK_URL).join(this.sink.url('/slack')).split(NEXT_STEP_URL).join(this.sink.url('/next-step'));
		const wired = JSON.parse(text) as WorkflowJson;
		for (const node of wired.nodes) {
			for (const type of Object.keys(node.credentials ?? {})) {
				const credential = credentialIds[type];
				if (!credential) throw new Error(`sandbox: no credential of type ${type} for node "${node.name}"`);
				node.credentials![type] = credential;
			}
		}
		return wired;
	}

	/**
	 * Creates the workflows in n8n, in order, and activates each; all of them or an error saying
	 * which one failed. An error workflow (an Error Trigger) is run by n8n when a workflow naming it
	 * fails: 1.x runs it as saved (and has nothing to activate in it), 2.x only once it is published.
	 * A workflow whose `settings.errorWorkflow` is the name of one created before it gets that one's id.
	 */
	async deploy(n8n: N8nInstance, workflows: WorkflowJson[], credentialIds: Record<string, { id: string; name: string }>): Promise<CreatedWorkflow[]> {
		const created: CreatedWorkflow[] = [];
		for (const workflow of workflows) {
			const errorWorkflow = created.find(({ name }) => name === workflow.settings?.errorWorkflow);
			const settings = errorWorkflow ? { ...workflow.settings, errorWorkflow: errorWorkflow.id } : workflow.settings;
			const made = await n8n.createWorkflow(this.wire({ ...workflow, settings }, credentialIds));
			if (isErrorWorkflow(workflow) && n8n.line.name === '1.x') {
				created.push(made);
				continue;
			}
			try {
				await n8n.activate(made);
			} catch (error) {
				throw new Error(`activating "${workflow.name}" failed: ${error instanceof Error ? error.message : String(error)}`);
			}
			created.push(made);
		}
		return created;
	}

	/** Kurier goes away (its port stays free for `kurierBack`); what it knew is gone with it. */
	async kurierDown(): Promise<number> {
		const { port } = this.kurier;
		await this.kurier.close();
		return port;
	}

	async kurierBack(port: number): Promise<void> {
		this.kurier = await KurierEmulator.start({ port, apiKeys: [this.secrets.kurierApiKey, this.secrets.kurierSpareKey], stepMs: this.options.stepMs });
	}

	/** The "next step" calls of the examples that reported `status`. */
	nextSteps(status: string): Array<Record<string, unknown>> {
		return this.sink
			.requestsTo('/next-step')
			.map((request) => request.body as Record<string, unknown>)
			.filter((body) => body.status === status);
	}

	async close(): Promise<void> {
		await Promise.all([this.kurier?.close(), this.allfeat?.close(), this.tachyon?.close()]);
		await this.sink?.close();
	}
}

/**
 * What a prover posts to examples/kurier-submit-and-wait.json's webhook: a snarkjs-shaped groth16
 * proof, public signals and VK. `rejected`: the emulator fails it (its JSON says "invalid").
 */
export function proofWebhookBody(options: { rejected?: boolean; publicSignal?: string } = {}): object {
	const proof = { pi_a: ['1', '2', '1'], pi_b: [['1', '2'], ['3', '4'], ['1', '0']], pi_c: ['5', '6', '1'], protocol: options.rejected ? 'invalid' : 'groth16', curve: 'bn128' };
	return { proof, publicSignals: [options.publicSignal ?? '42'], vk: { protocol: 'groth16', curve: 'bn128', nPublic: 1 } };
}

/** The production URL of the Allfeat ATS Webhook Trigger in examples/allfeat-webhook-to-email.json. */
export function allfeatWebhookUrl(n8nBaseUrl: string): string {
	const example = loadExample('allfeat-webhook-to-email.json');
	const trigger = example.nodes.find((node) => node.type === `${PACKAGE_PREFIX}allfeatAtsWebhookTrigger`);
	if (!trigger || typeof trigger.webhookId !== 'string') throw new Error('examples/allfeat-webhook-to-email.json has no webhook trigger with a webhookId');
	return `${n8nBaseUrl}/webhook/${trigger.webhookId}/allfeat-ats`;
}

/** A workflow started by n8n when another one fails (n8n's Error Trigger), not by activation. */
export function isErrorWorkflow(workflow: WorkflowJson): boolean {
	return workflow.nodes.some((node) => node.type === 'n8n-nodes-base.errorTrigger');
}

export function loadExample(file: string): WorkflowJson {
	return JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as WorkflowJson;
}

export function exampleFiles(): string[] {
	return readdirSync(EXAMPLES_DIR).filter((file) => file.endsWith('.json')).sort();
}

function randomHex(): string {
	return Math.random().toString(16).slice(2, 10) + Math.random().toString(16).slice(2, 10);
}
