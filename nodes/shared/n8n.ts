import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { IDataObject, IExecuteFunctions, INode, INodeExecutionData, INodeProperties, ITriggerFunctions, ITriggerResponse, JsonObject, TriggerPanelDefinition } from 'n8n-workflow';

import { ServiceApiError, ServiceUnreachableError } from './http';
import { checkpointStoreOver, handedTailOver, lastHeardOver, transitionExecutionKey } from './checkpoints';
import type { CheckpointStore, IdCheckpoint } from './checkpoints';
import type { NormalizedItem } from './NormalizedItem';
import type { Redactor } from './redact';
import { createRedactor, redactedMessage } from './redact';
import { SocketFatalError } from './ReconnectingSocket';
import { backoffDelayMs } from './backoff';
import type { BackoffSteps } from './backoff';
import { WaitTimeoutError } from './waitUntilFinal';
import { POLL_INTERVAL_OPTION, TIMEOUT_PARAMETER, WAIT_OPTIONS_PARAMETER } from './waitProperties';
import type { WaitParameters } from './waitProperties';

/**
 * Turns the protocol layer's errors into n8n's: NodeApiError for what the service said or did,
 * NodeOperationError for everything else. Messages are redacted once more on the way out, and no
 * raw response object is attached (n8n shows `errorResponse` to the user and stores it).
 */
export function toNodeError(node: INode, error: unknown, redact: Redactor, itemIndex?: number): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
	const message = redactedMessage(error, redact);
	if (error instanceof ServiceApiError) {
		const response: JsonObject = { message, httpCode: String(error.httpStatus), code: error.serviceCode };
		return new NodeApiError(node, response, {
			message,
			httpCode: String(error.httpStatus),
			description: describeStatus(error.httpStatus),
			itemIndex,
		});
	}
	// n8n may replace a message that names a network error code (ECONNREFUSED…) with its own
	// wording, so the description repeats ours: it says which URL (redacted) could not be reached.
	if (error instanceof ServiceUnreachableError) {
		return new NodeApiError(node, { message }, { message, description: `${message}. ${UNREACHABLE_HINT}`, itemIndex });
	}
	if (error instanceof SocketFatalError) {
		const httpCode = error.kind === 'auth' ? String(error.httpStatus ?? 401) : undefined;
		return new NodeApiError(node, { message }, { message, httpCode, description: describeSocketFailure(error, message), itemIndex });
	}
	return new NodeOperationError(node, message, { itemIndex });
}

function describeStatus(status: number): string | undefined {
	if (status === 401 || status === 403) return 'The service refused the credentials. Check the key or token in the credential (and that it belongs to the chosen network or environment).';
	if (status === 404) return 'The service does not know this id (or it belongs to another account).';
	if (status === 429) return 'The service is rate limiting this API key. Try again later.';
	if (status >= 500) return 'The service had an internal error. Try again later.';
	return undefined;
}

const UNREACHABLE_HINT = 'Check the base URL in the credential and that the service is reachable from n8n.';

function describeSocketFailure(error: SocketFatalError, message: string): string {
	switch (error.kind) {
		case 'auth':
			return 'The WebSocket was refused because of the credentials. The trigger will not retry until they are fixed.';
		case 'unreachable':
			return `${message}. ${UNREACHABLE_HINT}`;
		default:
			return 'The service refused this request.';
	}
}

/** A normalized item as n8n item JSON (it is plain JSON; the cast only widens the type). */
export function asItemJson(item: NormalizedItem): IDataObject {
	return item as unknown as IDataObject;
}

/** What a stream trigger runs: started on activation (or "Listen for test event"), closed on deactivation. */
export interface ItemStream {
	start(): Promise<void>;
	close(): Promise<void>;
}

export interface StreamHandlers {
	/**
	 * `accepted`: the checkpoint the stream's tracker wrote for the item's transition, handed on as
	 * it was then (whoever holds an item back keeps it with the item: a later transition of the id
	 * moves the stored one). It gives the item its `sequence` and n8n its deduplication key; an item
	 * without one (no transition of its id, e.g. Allfeat's `not_found`) gets no key.
	 */
	onItem(item: NormalizedItem, accepted?: IdCheckpoint): void;
	/**
	 * Progress per id across activations, for the stream's TransitionTracker: the workflow's static
	 * data when active, memory in a manual run ("Execute step" neither reads nor writes it).
	 */
	checkpoints: CheckpointStore;
	/**
	 * The last transitions handed to n8n before it stopped, to offer again at the first connection
	 * (n8n 2.x starting, or a new leader; empty otherwise): see `handedTailOver` in checkpoints.ts.
	 */
	handedBeforeStop?: ReadonlyArray<[string, IdCheckpoint]>;
	/** When an earlier activation of this trigger last emitted (epoch ms; null: never): what a catch-up lists from. */
	lastHeardBeforeStop?: number | null;
	/**
	 * Wraps one stream in this activation's start policy (see `startPolicyFor`): as it is for a
	 * user's activation; started again in the background until it works when n8n starts. For a
	 * stream made of several (one per id), each part is wrapped, so one id's outage holds no other.
	 */
	withStartPolicy(create: () => ItemStream): ItemStream;
	/** Something a retry cannot fix, after the stream started. */
	onFatal(error: Error): void;
}

export interface StreamTriggerOptions {
	/** Redacts the credential's secrets from error messages. */
	redact: Redactor;
	createStream(handlers: StreamHandlers): ItemStream;
	/** In manual mode: an item that should fail the test run rather than be its output (e.g. an unknown id). */
	manualRunError?(item: NormalizedItem): Error | null;
}

/**
 * Several streams as one (one per id, where the service's channel is per id): nothing is emitted
 * until every one of them has started, so an activation that fails on one id emits nothing, rather
 * than some ids' items followed by n8n's retry of the whole trigger. Closing closes them all.
 */
export function streamsStartedTogether(handlers: StreamHandlers, parts: ReadonlyArray<(onItem: StreamHandlers['onItem']) => ItemStream>): ItemStream {
	let held: Array<[NormalizedItem, IdCheckpoint | undefined]> | null = [];
	const onItem: StreamHandlers['onItem'] = (item, accepted) => (held ? held.push([item, accepted]) : handlers.onItem(item, accepted));
	const streams = parts.map((part) => handlers.withStartPolicy(() => part(onItem)));
	return {
		start: async () => {
			await Promise.all(streams.map(async (stream) => await stream.start()));
			const ready = held ?? [];
			held = null;
			for (const [item, accepted] of ready) handlers.onItem(item, accepted);
		},
		close: async () => {
			held = null;
			await Promise.all(streams.map(async (stream) => await stream.close()));
		},
	};
}

/**
 * What a failed start means, from n8n's activation mode, decided here for every trigger:
 * - `failActivation`: a user activating a workflow (or testing a step) hears at once about a wrong
 *   URL, a refused key or a service that is down.
 * - `retryInBackground`: n8n starting (`init`) or this instance becoming leader (`leadershipChange`)
 *   while a service is away: the trigger comes up, and starts again by itself, with a capped
 *   backoff, until the service answers. What no retry can fix still fails.
 */
export type StartPolicy = 'failActivation' | 'retryInBackground';

export function startPolicyFor(context: Pick<ITriggerFunctions, 'getMode' | 'getActivationMode'>): StartPolicy {
	if (context.getMode() === 'manual') return 'failActivation';
	const mode = context.getActivationMode();
	return mode === 'init' || mode === 'leadershipChange' ? 'retryInBackground' : 'failActivation';
}

/**
 * Whether starting again later could work: not for a refused credential or an id the service does
 * not know (a socket's `auth` / `refused`, REST's 401/403/404); yes for everything else (an
 * unreachable service, 5xx, 429, a connection dropped while starting).
 */
export function isRetryableStartFailure(error: unknown): boolean {
	if (error instanceof SocketFatalError) return error.kind === 'unreachable';
	if (error instanceof ServiceApiError) return ![401, 403, 404].includes(error.httpStatus);
	return true;
}

/**
 * Whether the n8n running this package refuses a second execution with the same deduplication key:
 * n8n 2.x (its n8n-workflow, this package's peer, is 2.x) does; 1.x ignores the key.
 */
export function n8nRefusesRepeatedExecutions(): boolean {
	try {
		// The peer's own version (n8n's n8n-workflow), read once per activation.
		const { version } = require('n8n-workflow/package.json') as { version?: unknown };
		return typeof version === 'string' && Number(version.split('.')[0]) >= 2;
	} catch {
		return false;
	}
}

/** Starting in the background: 0.5 s, doubling, at most every 8 s, so a trigger listens within seconds of its service's return. */
const BACKGROUND_START_STEPS: BackoffSteps = { initialMs: 500, maxMs: 8_000, factor: 2 };

export interface BackgroundStartHooks {
	redact: Redactor;
	logger?: Pick<ITriggerFunctions['logger'], 'warn'>;
	/** A later attempt failed for good (see isRetryableStartFailure). */
	onFatal(error: Error): void;
	steps?: BackoffSteps;
}

/**
 * A stream started under `retryInBackground`: `start()` resolves after the first attempt whether it
 * worked or not (it rejects only for what no retry can fix); a failed attempt is closed and a fresh
 * stream is started after the backoff. Checkpoints live in the store the streams share, so a later
 * attempt goes on where the last one stopped.
 */
export class BackgroundStartingStream implements ItemStream {
	private state: 'idle' | 'starting' | 'waiting' | 'running' | 'closed' = 'idle';
	private current: ItemStream | null = null;
	private retryTimer: NodeJS.Timeout | null = null;
	private failedAttempts = 0;

	constructor(
		private readonly create: () => ItemStream,
		private readonly hooks: BackgroundStartHooks,
	) {}

	async start(): Promise<void> {
		await this.attempt(true);
	}

	async close(): Promise<void> {
		this.state = 'closed';
		if (this.retryTimer !== null) clearTimeout(this.retryTimer);
		this.retryTimer = null;
		await this.current?.close().catch(() => undefined);
	}

	private async attempt(first: boolean): Promise<void> {
		if (this.isClosed()) return;
		this.state = 'starting';
		const stream = this.create();
		this.current = stream;
		try {
			await stream.start();
		} catch (error) {
			await stream.close().catch(() => undefined);
			if (this.isClosed()) return;
			if (!isRetryableStartFailure(error)) {
				this.state = 'closed';
				if (first) throw error;
				this.hooks.onFatal(error instanceof Error ? error : new Error(String(error)));
				return;
			}
			const delayMs = backoffDelayMs(this.hooks.steps ?? BACKGROUND_START_STEPS, this.failedAttempts++);
			this.hooks.logger?.warn(`Could not start listening (${redactedMessage(error, this.hooks.redact)}); trying again in ${delayMs} ms`);
			this.state = 'waiting';
			this.retryTimer = setTimeout(() => {
				this.retryTimer = null;
				void this.attempt(false);
			}, delayMs);
			return;
		}
		if (!this.isClosed()) this.state = 'running';
	}

	/** Read after an await: close() may have run meanwhile. */
	private isClosed(): boolean {
		return this.state === 'closed';
	}
}

/**
 * What the editor's trigger panel says about a WebSocket trigger (n8n shows a panel for webhook and
 * polling triggers by itself, and for others only when the node asks): how to test it, and that the
 * active workflow runs by itself. `event` completes "runs once per …", e.g. "status change of a Kurier job".
 */
export function streamTriggerPanel(service: string, event: string): TriggerPanelDefinition {
	return {
		header: `Pull in a ${service} event to test with`,
		executionsHelp: {
			inactive: `While building, click "Execute step": the node connects to ${service} and shows the next ${event}. Activate the workflow to run it once per ${event}, with no click.`,
			active: `This workflow is active: it runs once per ${event}, over a WebSocket it keeps open. Its runs are in the Executions tab.`,
		},
		activationHint: `Once you have finished building, activate the workflow: it then runs once per ${event}.`,
	};
}

/**
 * The trigger() every stream trigger of this package shares, shaped like n8n's own persistent-
 * connection triggers: wire the stream to `emit`, return `closeFunction` (and in manual mode
 * `manualTriggerFunction`, which emits the first item and stops).
 * - `context.emit` is read at event time: in manual mode n8n swaps it after trigger() returns.
 * - `emitError` only for what a retry cannot fix: it makes n8n tear the trigger down and reactivate it.
 * - `closeFunction` never throws: a failing close blocks deactivation.
 */
export async function runStreamTrigger(context: ITriggerFunctions, options: StreamTriggerOptions): Promise<ITriggerResponse> {
	const manual = context.getMode() === 'manual';
	const staticData = manual ? {} : (context.getWorkflowStaticData('node') as Record<string, unknown>);
	const checkpoints = checkpointStoreOver(staticData);
	const handed = handedTailOver(staticData);
	// Noted at each emit, the one moment n8n saves static data: a later start lists what it missed since.
	const heard = lastHeardOver(staticData);
	const lastHeardBeforeStop = manual ? null : heard.get();
	// Test runs are not deduplicated: each "Execute step" is meant to run.
	const workflowId = manual ? undefined : context.getWorkflow().id;
	const nodeId = context.getNode().id;
	// The checkpoint the tracker wrote when it accepted the item's transition: its count is the
	// sequence, its key the transition's (for n8n's execution deduplication, see checkpoints.ts).
	// An item that is no transition has none: it counts as the id's last one, and n8n gets no key.
	const emit = (item: NormalizedItem, accepted?: IdCheckpoint) => {
		const checkpoint = accepted ?? checkpoints.get(item.id);
		// Details copied: triggers sharing a socket get the same parsed frame, and their nested
		// objects must not be one object in two executions (a node editing one in place).
		const data = [context.helpers.returnJsonArray([asItemJson({ ...item, details: structuredClone(item.details), sequence: checkpoint?.sequence ?? 1 })])];
		if (!manual) heard.note(Date.now());
		if (workflowId && nodeId && accepted) {
			handed.note(item.id, accepted);
			context.emit(data, undefined, undefined, transitionExecutionKey(workflowId, nodeId, item.id, accepted.key));
		} else context.emit(data);
	};
	let delivered = false;
	let starting = true;
	// A manual-run error found while starting fails start() itself (emitError would come too early).
	let errorWhileStarting: Error | null = null;

	const onManualItem = (item: NormalizedItem, accepted?: IdCheckpoint) => {
		// "Listen for test event" wants one item; later ones would go nowhere.
		if (delivered) return;
		delivered = true;
		void close();
		const error = options.manualRunError?.(item) ?? null;
		if (error === null) emit(item, accepted);
		else if (starting) errorWhileStarting = error;
		else context.emitError(error);
	};
	// One fatal error per activation: n8n tears the trigger down at the first (and runs the error
	// workflow and queues a reactivation for each one reported). Streams of several ids often fail
	// for one cause (a host refusing them all): the first closes them all, so none keeps retrying.
	let failed = false;
	const onFatal = (error: Error) => {
		if (failed) return;
		failed = true;
		void close();
		context.emitError(toNodeError(context.getNode(), error, options.redact));
	};
	const policy = startPolicyFor(context);
	const withStartPolicy = (create: () => ItemStream): ItemStream =>
		policy === 'retryInBackground' ? new BackgroundStartingStream(create, { redact: options.redact, logger: context.logger, onFatal }) : create();
	// Offered again only where n8n refuses a repeated key (2.x): on 1.x each would run a second time.
	const handedBeforeStop = policy === 'retryInBackground' && n8nRefusesRepeatedExecutions() ? handed.entries() : [];
	const handlers: StreamHandlers = { onItem: manual ? onManualItem : emit, checkpoints, onFatal, withStartPolicy, handedBeforeStop, lastHeardBeforeStop };
	const stream = withStartPolicy(() => options.createStream(handlers));
	const close = async () => {
		await stream.close().catch(() => undefined);
	};
	const start = async () => {
		try {
			await stream.start();
		} catch (error) {
			await close();
			throw toNodeError(context.getNode(), error, options.redact);
		} finally {
			starting = false;
		}
		if (errorWhileStarting) throw errorWhileStarting;
	};

	if (manual) return { closeFunction: close, manualTriggerFunction: start };
	await start();
	return { closeFunction: close };
}

/**
 * An action node's execute(): runs `operation` for every input item, pairs each output with its
 * item, and turns failures into n8n errors, or into `{ error }` items with "On Error: Continue".
 */
export async function executeForEachItem(
	context: IExecuteFunctions,
	redact: Redactor,
	operation: (itemIndex: number) => Promise<IDataObject>,
): Promise<INodeExecutionData[][]> {
	const output: INodeExecutionData[] = [];
	for (let itemIndex = 0; itemIndex < context.getInputData().length; itemIndex++) {
		try {
			output.push({ json: await operation(itemIndex), pairedItem: { item: itemIndex } });
		} catch (caught) {
			const error = toNodeError(context.getNode(), caught, redact, itemIndex);
			if (!context.continueOnFail()) throw error;
			output.push({ json: { error: error.message }, pairedItem: { item: itemIndex } });
		}
	}
	return [output];
}

export interface WaitOperationOptions {
	/** The node's wait parameters: their names and defaults, and the fail parameter's label for hints. */
	parameters: WaitParameters;
	/** How to change course after a timeout, e.g. "use the Kurier Trigger instead". */
	timeoutHint: string;
	/** Names the id in the failure message, e.g. "Kurier job 1234…". */
	subject: string;
	wait(timing: { timeoutMs: number; pollIntervalMs: number; signal?: AbortSignal }): Promise<NormalizedItem>;
}

/**
 * The n8n side of every "wait for …" operation: reads "Timeout (Seconds)" and the poll interval
 * option, runs the wait (cancelled with the execution), words a timeout, and fails the node on a
 * failed outcome when the user asked for it.
 */
export async function runWaitOperation(context: IExecuteFunctions, itemIndex: number, options: WaitOperationOptions): Promise<IDataObject> {
	const { parameters } = options;
	const timeoutSeconds = Number(context.getNodeParameter(TIMEOUT_PARAMETER, itemIndex, parameters.timeout.default));
	const extra = context.getNodeParameter(WAIT_OPTIONS_PARAMETER, itemIndex, {}) as IDataObject;
	const pollIntervalSeconds = Number(extra[POLL_INTERVAL_OPTION] ?? parameters.pollInterval.default);
	if (!(timeoutSeconds > 0) || !(pollIntervalSeconds > 0)) {
		throw new NodeOperationError(context.getNode(), 'Timeout and poll interval must be positive numbers of seconds', { itemIndex });
	}
	let item: NormalizedItem;
	try {
		item = await options.wait({
			timeoutMs: timeoutSeconds * 1000,
			pollIntervalMs: pollIntervalSeconds * 1000,
			signal: context.getExecutionCancelSignal?.(),
		});
	} catch (error) {
		if (error instanceof WaitTimeoutError) {
			throw new NodeOperationError(context.getNode(), error.message, { itemIndex, description: `Raise "Timeout (Seconds)", or ${options.timeoutHint}.` });
		}
		throw error;
	}
	return failedOutcomeAsAsked(context, itemIndex, item, parameters, options.subject);
}

/**
 * A final item as the node's output, or, when it ended failed and the fail parameter is on (its
 * default), the node's error. `subject` names the id, e.g. "Tachyon transaction 68fa…".
 */
export function failedOutcomeAsAsked(context: IExecuteFunctions, itemIndex: number, item: NormalizedItem, parameters: WaitParameters, subject: string): IDataObject {
	if (item.phase === 'failed' && context.getNodeParameter(parameters.failOnFailure.name, itemIndex, true) === true) {
		throw new NodeOperationError(context.getNode(), `${subject} failed: ${item.error ?? item.status}`, {
			itemIndex,
			description: `Turn off "${parameters.failOnFailure.displayName}" to output it as an item instead.`,
		});
	}
	return asItemJson(item);
}

export interface CredentialReader {
	getCredentials(type: string): Promise<object>;
	getNode(): INode;
}

/**
 * Builds a service client from the node's credential. A credential that cannot work (no key, a
 * base URL that is not one) is a NodeOperationError whose message hides the credential's secrets.
 */
export async function clientForCredential<Client>(
	context: CredentialReader,
	type: string,
	secretFields: readonly string[],
	build: (fields: Record<string, unknown>) => Client,
): Promise<Client> {
	const fields = (await context.getCredentials(type)) as Record<string, unknown>;
	try {
		return build(fields);
	} catch (error) {
		const secrets = secretFields.map((name) => fields[name]).filter((value): value is string => typeof value === 'string');
		throw toNodeError(context.getNode(), error, createRedactor(secrets));
	}
}

/**
 * The stream triggers' "REST Check" option: how often, while connected, ids not final yet are read
 * over REST (a status whose frame never came is still delivered). In minutes; 0 turns it off.
 */
export const restCheckOptionsProperty: INodeProperties = {
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add Option',
	default: {},
	description: 'Less common settings',
	options: [
		{
			displayName: 'REST Check Interval (Minutes)',
			name: 'restCheckMinutes',
			type: 'number',
			typeOptions: { minValue: 0, numberPrecision: 2 },
			default: 5,
			description:
				'While connected, how often the trigger looks for items not final yet that have been quiet longer than their status normally lasts, and reads those over the REST API (each less often while it stays the same, up to once every 12 checks), so a status whose WebSocket message never came is still delivered. 0 turns it off. Reads are paced per API key and slow down when the service says "too many requests".',
		},
	],
};

/** The sweep interval (ms) a stream trigger's "REST Check Interval" option asks for. */
export function restCheckIntervalMs(context: ITriggerFunctions): number {
	const options = context.getNodeParameter('options', {}) as { restCheckMinutes?: number };
	const minutes = typeof options.restCheckMinutes === 'number' && options.restCheckMinutes >= 0 ? options.restCheckMinutes : 5;
	return Math.round(minutes * 60_000);
}
