import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { installInto } from './communityPackage';
import type { N8nLine } from './n8nLines';
import { LoggedProcess, freePort, waitUntil } from './processes';
import type { PostgresServer, RedisServer } from './queueServices';

/**
 * One real n8n, started from its CLI the way users run it: own user folder (SQLite) or, in queue
 * mode, a main and a separate `n8n worker` sharing PostgreSQL and Redis. This package sits in the
 * user folder as an installed community package. Credentials and workflows go in through n8n's
 * REST API as the editor sends them, signed in as the owner the instance is set up with.
 */

export interface N8nInstanceOptions {
	line: N8nLine;
	/** A fresh folder for this instance (user folder, logs). */
	dir: string;
	/** The package installed once (see communityPackage.ts), copied into the user folder. */
	packageTemplate: string;
	queue?: { postgres: PostgresServer; redis: RedisServer };
	/** Extra environment for n8n (and its worker). */
	env?: Record<string, string>;
	port?: number;
}

export interface CreatedWorkflow {
	id: string;
	versionId: string;
	name: string;
}

export interface ExecutionSummary {
	id: string;
	workflowId: string;
	/** success, error, crashed, running, new, waiting, canceled, unknown */
	status: string;
	mode: string;
	startedAt: string | null;
	stoppedAt: string | null;
	retryOf?: string | null;
}

export const OWNER = { email: 'owner@example.com', firstName: 'Sandbox', lastName: 'Owner', password: 'Sandbox-Owner-1' };
const START_TIMEOUT_MS = 180_000;
const BROWSER_ID = 'e2e-harness';
const WEBHOOK_REGISTRATION_WAIT_MS = 10_000;
/** Static data read from or written to n8n's database directly: the 1 MiB default of execFileSync is less than 10,000 checkpoints. */
const STATIC_DATA_MAX_BYTES = 64 * 1024 * 1024;

export class N8nInstance {
	readonly port: number;
	readonly baseUrl: string;
	main: LoggedProcess | undefined;
	worker: LoggedProcess | undefined;
	private cookie = '';
	private readonly userFolder: string;
	private readonly workerUserFolder: string;

	private constructor(
		readonly options: N8nInstanceOptions,
		port: number,
		private readonly brokerPorts: { main: number; worker: number },
	) {
		this.port = port;
		this.baseUrl = `http://127.0.0.1:${port}`;
		this.userFolder = join(options.dir, 'user');
		this.workerUserFolder = join(options.dir, 'worker-user');
	}

	static async create(options: N8nInstanceOptions): Promise<N8nInstance> {
		const instance = new N8nInstance(options, options.port ?? (await freePort()), { main: await freePort(), worker: await freePort() });
		mkdirSync(instance.userFolder, { recursive: true });
		installInto(instance.userFolder, options.packageTemplate);
		if (options.queue) {
			// The worker runs the nodes too, from its own user folder (as on a machine of its own).
			mkdirSync(instance.workerUserFolder, { recursive: true });
			installInto(instance.workerUserFolder, options.packageTemplate);
		}
		return instance;
	}

	get line(): N8nLine {
		return this.options.line;
	}

	get webhookBaseUrl(): string {
		return `${this.baseUrl}/webhook`;
	}

	/** n8n's environment: everything on loopback, no telemetry, logs on the console at debug level. */
	env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
		const inherited = { ...process.env };
		// n8n must not pick up a proxy or a database from the calling shell.
		for (const name of Object.keys(inherited)) {
			if (/^(https?_proxy|no_proxy|all_proxy|DB_|N8N_|QUEUE_|EXECUTIONS_|JEST_|NODE_ENV$|NODE_OPTIONS$)/i.test(name)) delete inherited[name];
		}
		const env: NodeJS.ProcessEnv = {
			...inherited,
			PATH: this.line.path,
			// As users run it (jest sets NODE_ENV=test, which n8n reads as its own test mode).
			NODE_ENV: 'production',
			N8N_USER_FOLDER: this.userFolder,
			N8N_PORT: String(this.port),
			N8N_LISTEN_ADDRESS: '127.0.0.1',
			N8N_HOST: '127.0.0.1',
			N8N_PROTOCOL: 'http',
			WEBHOOK_URL: `${this.baseUrl}/`,
			N8N_EDITOR_BASE_URL: `${this.baseUrl}/`,
			N8N_ENCRYPTION_KEY: 'e2e-encryption-key-not-secret',
			N8N_SECURE_COOKIE: 'false',
			N8N_DIAGNOSTICS_ENABLED: 'false',
			N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
			N8N_TEMPLATES_ENABLED: 'false',
			N8N_PERSONALIZATION_ENABLED: 'false',
			N8N_HIRING_BANNER_ENABLED: 'false',
			N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
			N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
			N8N_LOG_LEVEL: 'debug',
			N8N_LOG_OUTPUT: 'console',
			N8N_RUNNERS_ENABLED: 'false',
			// n8n 2.x always starts its task broker (default port 5679): one per instance.
			N8N_RUNNERS_BROKER_PORT: String(this.brokerPorts.main),
			N8N_METRICS: 'false',
			EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'all',
			...this.queueEnv(),
			...this.options.env,
			...extra,
		};
		return env;
	}

	private queueEnv(): Record<string, string> {
		const queue = this.options.queue;
		if (!queue) return {};
		return {
			EXECUTIONS_MODE: 'queue',
			QUEUE_BULL_REDIS_HOST: '127.0.0.1',
			QUEUE_BULL_REDIS_PORT: String(queue.redis.port),
			DB_TYPE: 'postgresdb',
			DB_POSTGRESDB_HOST: '127.0.0.1',
			DB_POSTGRESDB_PORT: String(queue.postgres.port),
			DB_POSTGRESDB_DATABASE: queue.postgres.database,
			DB_POSTGRESDB_USER: queue.postgres.user,
			DB_POSTGRESDB_PASSWORD: queue.postgres.password,
		};
	}

	/**
	 * Starts n8n (`extraEnv` on top of its environment, for this start) and, in queue mode, then its
	 * worker (as deployments do: the main migrates the database first; a worker starting alongside a
	 * fresh main races it through the migrations). Resolves once the REST API answers, the owner is
	 * signed in and the worker reports healthy.
	 */
	async start(extraEnv: Record<string, string> = {}): Promise<void> {
		this.main = LoggedProcess.spawn('n8n', this.line.node, [this.line.cli, 'start'], join(this.options.dir, 'n8n.log'), { env: this.env(extraEnv), cwd: this.options.dir });
		// /healthz answers before the REST API is up, and while starting up every route answers 200
		// with a "n8n is starting up" page: ready is /rest/settings answering JSON.
		await waitUntil(`n8n ${this.line.version} to serve /rest/settings on ${this.baseUrl}`, async () => await this.isRestReady(), START_TIMEOUT_MS, {
			everyMs: 500,
			abort: () => this.exitReason(),
		});
		await this.signIn();
		if (this.options.queue) await this.startWorker();
	}

	private async startWorker(): Promise<void> {
		const healthPort = await freePort();
		this.worker = LoggedProcess.spawn('n8n worker', this.line.node, [this.line.cli, 'worker', '--concurrency=10'], join(this.options.dir, 'n8n-worker.log'), {
			env: this.env({
				N8N_USER_FOLDER: this.workerUserFolder,
				N8N_RUNNERS_BROKER_PORT: String(this.brokerPorts.worker),
				QUEUE_HEALTH_CHECK_ACTIVE: 'true',
				QUEUE_HEALTH_CHECK_PORT: String(healthPort),
				N8N_WORKER_SERVER_PORT: String(healthPort),
			}),
			cwd: this.options.dir,
		});
		await waitUntil('the n8n worker to report healthy', async () => (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).ok, START_TIMEOUT_MS, {
			everyMs: 500,
			abort: () => this.exitReason(),
		});
	}

	private async isRestReady(): Promise<boolean> {
		const response = await fetch(`${this.baseUrl}/rest/settings`);
		return response.ok && (response.headers.get('content-type') ?? '').includes('application/json');
	}

	private exitReason(): string | undefined {
		for (const process of [this.main, this.worker]) {
			if (process && !process.isRunning) return `${process.name} exited early (${process.exitDescription}); last log lines:\n${process.log().split('\n').slice(-30).join('\n')}`;
		}
		return undefined;
	}

	/** A fresh instance gets its owner; then the owner signs in (setup itself signs in on some versions only). */
	private async signIn(): Promise<void> {
		const setup = await fetch(`${this.baseUrl}/rest/owner/setup`, { method: 'POST', headers: this.headers(), body: JSON.stringify(OWNER) });
		if (setup.ok && setup.headers.getSetCookie().length > 0) return this.keepCookie(setup);
		const login = await fetch(`${this.baseUrl}/rest/login`, {
			method: 'POST',
			headers: this.headers(),
			body: JSON.stringify({ emailOrLdapLoginId: OWNER.email, password: OWNER.password }),
		});
		if (!login.ok) throw new Error(`n8n: owner setup answered ${setup.status} and sign-in ${login.status}: ${await login.text()}`);
		this.keepCookie(login);
	}

	private keepCookie(response: Response): void {
		const cookies = response.headers.getSetCookie().map((cookie) => cookie.split(';')[0]);
		if (cookies.length === 0) throw new Error('n8n: no session cookie after sign-in');
		this.cookie = cookies.join('; ');
	}

	private headers(): Record<string, string> {
		return { 'content-type': 'application/json', 'browser-id': BROWSER_ID, ...(this.cookie ? { cookie: this.cookie } : {}) };
	}

	/** A call to n8n's internal REST API as the signed-in owner; answers its `data`. */
	async rest<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
		const response = await fetch(`${this.baseUrl}/rest${path}`, { method, headers: this.headers(), body: body === undefined ? undefined : JSON.stringify(body) });
		const text = await response.text();
		if (!response.ok) throw new Error(`n8n ${method} /rest${path} answered ${response.status}: ${text.slice(0, 500)}`);
		const parsed = text ? (JSON.parse(text) as { data?: T }) : {};
		return (parsed.data ?? parsed) as T;
	}

	async createCredential(name: string, type: string, data: Record<string, unknown>): Promise<string> {
		const created = await this.rest<{ id: string }>('POST', '/credentials', { name, type, data });
		return created.id;
	}

	async createWorkflow(workflow: { name: string; nodes: unknown[]; connections: unknown; settings?: unknown }): Promise<CreatedWorkflow> {
		const created = await this.rest<{ id: string; versionId: string; name: string }>('POST', '/workflows', {
			name: workflow.name,
			nodes: workflow.nodes,
			connections: workflow.connections,
			settings: workflow.settings ?? { executionOrder: 'v1' },
			active: false,
		});
		return { id: created.id, versionId: created.versionId, name: created.name };
	}

	/** Activates (publishes, in 2.x) a workflow as the editor's toggle does; throws with n8n's reason when activation fails. */
	async activate(workflow: CreatedWorkflow): Promise<void> {
		await this.rest('POST', `/workflows/${workflow.id}/activate`, { versionId: workflow.versionId });
	}

	async deactivate(workflow: CreatedWorkflow): Promise<void> {
		await this.rest('POST', `/workflows/${workflow.id}/deactivate`, {});
	}

	/** Whether n8n has the workflow active (on 2.x: a published version is active). */
	async isActive(workflow: CreatedWorkflow): Promise<boolean> {
		const loaded = await this.rest<{ active?: boolean; activeVersionId?: string | null }>('GET', `/workflows/${workflow.id}`);
		return loaded.activeVersionId !== undefined ? loaded.activeVersionId !== null : loaded.active === true;
	}

	/** The workflow's static data as n8n has it in its database (triggers keep their checkpoints there). */
	async savedStaticData(workflow: CreatedWorkflow): Promise<unknown> {
		const loaded = await this.rest<Record<string, unknown>>('GET', `/workflows/${workflow.id}`);
		return loaded.staticData;
	}

	/**
	 * Puts `staticData` into n8n's database for the workflow, while n8n is stopped: what n8n leaves
	 * there when two of its background writes of one workflow's static data land in the older
	 * order. SQLite only (the user folder's database), through the sqlite3 module of this line's own
	 * n8n install, run by this line's Node.
	 */
	writeStaticDataWhileStopped(workflow: CreatedWorkflow, staticData: unknown): void {
		if (this.main?.isRunning) throw new Error('stop n8n before writing to its database');
		if (this.options.queue) throw new Error('writeStaticDataWhileStopped handles the SQLite database of regular mode only');
		const installDir = dirname(dirname(dirname(dirname(this.line.cli))));
		const script = `
			const sqlite3 = require(require.resolve('sqlite3', { paths: [process.argv[1]] }));
			const db = new sqlite3.Database(process.argv[2]);
			const staticData = require('node:fs').readFileSync(0, 'utf8');
			db.run('UPDATE workflow_entity SET staticData = ? WHERE id = ?', [staticData, process.argv[3]], function (error) {
				if (error || this.changes !== 1) { console.error(error ? error.message : 'changed ' + this.changes + ' rows'); process.exitCode = 1; }
				db.close();
			});`;
		// On stdin: an argument may hold 128 KiB at most, and static data with thousands of checkpoints is larger.
		execFileSync(this.line.node, ['-e', script, installDir, join(this.userFolder, '.n8n', 'database.sqlite'), workflow.id], { input: JSON.stringify(staticData), stdio: 'pipe' });
	}

	/** The workflow's static data in n8n's database while n8n is stopped (or killed): what n8n loads at its next start. SQLite only. */
	readStaticDataWhileStopped(workflow: CreatedWorkflow): unknown {
		if (this.main?.isRunning) throw new Error('stop n8n before reading its database');
		if (this.options.queue) throw new Error('readStaticDataWhileStopped handles the SQLite database of regular mode only');
		const installDir = dirname(dirname(dirname(dirname(this.line.cli))));
		const script = `
			const sqlite3 = require(require.resolve('sqlite3', { paths: [process.argv[1]] }));
			// Read-write: after a kill SQLite first rolls back the journal n8n left (as n8n's next start would).
			const db = new sqlite3.Database(process.argv[2]);
			db.get('SELECT staticData FROM workflow_entity WHERE id = ?', [process.argv[3]], (error, row) => {
				if (error || !row) { console.error(error ? error.message : 'no such workflow'); process.exitCode = 1; }
				else process.stdout.write(row.staticData ?? 'null');
				db.close();
			});`;
		const text = execFileSync(this.line.node, ['-e', script, installDir, join(this.userFolder, '.n8n', 'database.sqlite'), workflow.id], { stdio: 'pipe', maxBuffer: STATIC_DATA_MAX_BYTES }).toString('utf8');
		return JSON.parse(text || 'null') as unknown;
	}

	/**
	 * Saves a workflow as the editor's Save button does: the editor's own fields (no static data),
	 * with the version it loaded. On 1.x saving an active workflow re-adds its triggers; on 2.x a
	 * save makes a draft, and publishing it (what a user does to put the edit live) re-adds them.
	 */
	async saveAsEditor(workflow: CreatedWorkflow): Promise<void> {
		const loaded = await this.rest<Record<string, unknown>>('GET', `/workflows/${workflow.id}`);
		const body: Record<string, unknown> = {
			name: loaded.name,
			nodes: loaded.nodes,
			connections: loaded.connections,
			settings: loaded.settings,
			pinData: loaded.pinData ?? {},
			meta: loaded.meta ?? {},
			tags: [],
			versionId: loaded.versionId,
		};
		if (this.line.name === '1.x') body.active = true;
		const saved = await this.rest<{ versionId: string }>('PATCH', `/workflows/${workflow.id}`, body);
		workflow.versionId = saved.versionId ?? workflow.versionId;
		if (this.line.name === '2.x') await this.activate(workflow);
	}

	/** POSTs JSON to a production webhook of an active workflow; throws unless n8n answers 2xx. */
	async postWebhook(path: string, body: unknown): Promise<void> {
		// Right after an activation n8n may not have registered the production webhook yet (404).
		const deadline = Date.now() + WEBHOOK_REGISTRATION_WAIT_MS;
		for (;;) {
			const response = await fetch(`${this.webhookBaseUrl}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
			if (response.ok) return;
			const text = await response.text();
			if (response.status !== 404 || Date.now() > deadline) throw new Error(`n8n webhook ${path} answered ${response.status}: ${text.slice(0, 300)}`);
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
	}

	/** Everything n8n (and its worker) printed so far. */
	logs(): string {
		return [this.main, this.worker].map((process) => process?.log() ?? '').join('\n');
	}

	/**
	 * Ends n8n without a shutdown: SIGKILL to its whole process group (and its worker's), as the
	 * kernel's OOM killer, `docker kill` or a host losing power do. `start()` starts it again.
	 */
	async kill(): Promise<void> {
		await Promise.all([this.worker?.kill(), this.main?.kill()]);
	}

	/** A public-API key of the owner (what n8n's own "n8n" node and `/api/v1` take), created as Settings → n8n API does. */
	async createApiKey(label: string): Promise<string> {
		const created = await this.rest<{ apiKey?: string; rawApiKey?: string }>('POST', '/api-keys', { label, expiresAt: null, scopes: ['execution:read', 'execution:list', 'workflow:read'] });
		const key = created.rawApiKey ?? created.apiKey;
		if (!key) throw new Error('n8n: no API key in the answer to POST /rest/api-keys');
		return key;
	}

	/** Every execution of the workflow in n8n's Executions list (newest first), as the editor lists them. */
	async executions(workflowId: string): Promise<ExecutionSummary[]> {
		const all: ExecutionSummary[] = [];
		const pageSize = 100;
		for (;;) {
			const query = new URLSearchParams({ filter: JSON.stringify({ workflowId }), limit: String(pageSize) });
			const lastId = all.at(-1)?.id;
			if (lastId !== undefined) query.set('lastId', lastId);
			const page = await this.rest<{ results: ExecutionSummary[] }>('GET', `/executions?${query.toString()}`);
			all.push(...page.results);
			if (page.results.length < pageSize) return all;
		}
	}

	/** One execution with its run data (n8n keeps it in its `flatted` form; answered as plain objects). */
	async execution(id: string): Promise<ExecutionSummary & { data: unknown }> {
		const execution = await this.rest<ExecutionSummary & { data: unknown }>('GET', `/executions/${id}`);
		return { ...execution, data: typeof execution.data === 'string' ? unflatten(execution.data) : execution.data };
	}

	async stop(): Promise<void> {
		await Promise.all([this.worker?.stop(), this.main?.stop()]);
	}
}

/**
 * Reads n8n's stored run data, written with the `flatted` format: a JSON array whose first entry is
 * the root, where every object, array and string is an entry and a string inside an object or array
 * is the index of the entry it stands for (numbers, booleans and null stay inline).
 */
export function unflatten(text: string): unknown {
	const table = JSON.parse(text) as unknown[];
	const revived = new Map<number, unknown>();
	const revive = (index: number): unknown => {
		const value = table[index];
		if (typeof value !== 'object' || value === null) return value;
		if (revived.has(index)) return revived.get(index);
		const out: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
		revived.set(index, out);
		for (const [key, entry] of Object.entries(value)) (out as Record<string, unknown>)[key] = typeof entry === 'string' ? revive(Number(entry)) : entry;
		return out;
	};
	return revive(0);
}
