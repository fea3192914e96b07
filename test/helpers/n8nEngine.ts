/**
 * Runs this package's nodes inside n8n's real engine (n8n-core), the way n8n itself does:
 * - production triggers through `ActiveWorkflowTriggers` (what n8n uses to activate workflows),
 *   with a `TriggerContext` whose emit collects the items instead of starting an execution;
 * - "Listen for test event" and action nodes through `WorkflowExecute` in manual mode, which
 *   calls trigger(), then manualTriggerFunction(), swaps `emit`, and closes the trigger at the end.
 * Only the credential store and the execution hooks are stand-ins.
 */
import { Logger } from '@n8n/backend-common';
import { Container } from '@n8n/di';
import { ActiveWorkflowTriggers, CredentialTestContext, ExecutionLifecycleHooks, TriggerContext, WorkflowExecute } from 'n8n-core';
import { ICredentialsHelper, Workflow } from 'n8n-workflow';
import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	INode,
	INodeCredentialTestResult,
	INodeExecutionData,
	INodeParameters,
	INodeType,
	INodeTypes,
	IRun,
	IVersionedNodeType,
	IWorkflowExecuteAdditionalData,
	WorkflowActivateMode,
	WorkflowExecuteMode,
	ITriggerFunctions,
	ICredentialTestFunction,
	IHttpRequestOptions,
	INodeCredentialsDetails,
	INodeProperties,
	IRequestOptionsSimplified,
} from 'n8n-workflow';

import { CapturingLogger } from './logs';

export const PACKAGE = 'n8n-nodes-onchain-events';

/** Everything any node logs through n8n's logger in this test file (n8n hands nodes the container's Logger). */
export const engineLogs = new CapturingLogger();
Container.set(Logger, engineLogs as unknown as Logger);

class PackageNodeTypes implements INodeTypes {
	private readonly types = new Map<string, INodeType>();

	register(nodeType: INodeType): string {
		const name = `${PACKAGE}.${nodeType.description.name}`;
		this.types.set(name, nodeType);
		return name;
	}

	getByName(name: string): INodeType | IVersionedNodeType {
		return this.getByNameAndVersion(name);
	}

	getByNameAndVersion(name: string): INodeType {
		const type = this.types.get(name);
		if (!type) throw new Error(`Unknown node type ${name}`);
		return type;
	}

	getKnownTypes(): IDataObject {
		return {};
	}
}

export interface NodeUnderTest {
	nodeType: INodeType;
	parameters: INodeParameters;
	/** Credential data by credential type name. */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	/** The node setting "On Error: Continue" (n8n's continueOnFail). */
	continueOnFail?: boolean;
	/** The node settings "Retry On Fail", "Max. Tries" and "Wait Between Tries (ms)" (n8n allows 2–5 tries). */
	retryOnFail?: { maxTries: number; waitBetweenTries: number };
	/**
	 * The workflow's static data, as n8n loads it from its database: pass the same object to a
	 * second activation to see what a restart of n8n sees.
	 */
	staticData?: IDataObject;
	/** Why n8n activates the trigger (default `activate`, a user's toggle; `init` is n8n starting). */
	activation?: WorkflowActivateMode;
	/**
	 * The workflow's and the node's ids, as a saved workflow keeps them across activations (by
	 * default each build gets new ones, so several activations of one subject can run side by side).
	 */
	ids?: { workflow: string; node: string };
}

let workflowCounter = 0;

/** A workflow holding the node under test (plus `extraNodes`), as n8n would build it from its JSON. */
export function buildWorkflow(subject: NodeUnderTest, extraNodes: INode[] = [], connections = {}, extraTypes: INodeType[] = []) {
	const nodeTypes = new PackageNodeTypes();
	const type = nodeTypes.register(subject.nodeType);
	extraTypes.forEach((t) => nodeTypes.register(t));
	workflowCounter += 1;
	const node: INode = {
		id: subject.ids?.node ?? `node-${workflowCounter}`,
		name: subject.nodeType.description.defaults.name ?? 'Node',
		type,
		typeVersion: 1,
		position: [0, 0],
		// Webhook nodes need one; other nodes ignore it.
		webhookId: `webhook-${workflowCounter}`,
		parameters: subject.parameters,
		...(subject.continueOnFail ? { onError: 'continueRegularOutput' as const } : {}),
		...(subject.retryOnFail ? { retryOnFail: true, ...subject.retryOnFail } : {}),
		credentials: Object.fromEntries(
			Object.keys(subject.credentials ?? {}).map((name) => [name, { id: `cred-${name}`, name: `${name} (test)` }]),
		),
	};
	const workflow = new Workflow({
		id: subject.ids?.workflow ?? `wf-${workflowCounter}`,
		name: 'test workflow',
		nodes: [node, ...extraNodes],
		connections,
		active: false,
		nodeTypes,
		settings: {},
		staticData: subject.staticData,
	});
	return { workflow, node };
}

/** The credential store: hands out the test's credential data, as n8n's would after decrypting it. */
class TestCredentialsHelper extends ICredentialsHelper {
	constructor(private readonly credentials: Record<string, ICredentialDataDecryptedObject>) {
		super();
	}

	getParentTypes(): string[] {
		return [];
	}

	isCredentialUsableByNode(): boolean {
		return true;
	}

	async authenticate(_credentials: ICredentialDataDecryptedObject, _typeName: string, requestOptions: IHttpRequestOptions | IRequestOptionsSimplified) {
		return requestOptions as IHttpRequestOptions;
	}

	async preAuthentication() {
		return undefined;
	}

	async runPreAuthentication() {
		return undefined;
	}

	async getCredentials(): Promise<never> {
		throw new Error('Encrypted credentials are not used in tests');
	}

	async getDecrypted(_data: IWorkflowExecuteAdditionalData, _details: INodeCredentialsDetails, type: string): Promise<ICredentialDataDecryptedObject> {
		const found = this.credentials[type];
		if (!found) throw new Error(`No test credential of type ${type}`);
		return { ...found };
	}

	async updateCredentials() {}

	async updateCredentialsOauthTokenData() {}

	getCredentialsProperties(): INodeProperties[] {
		return [];
	}
}

/** What n8n hands the engine per execution; only the credential store is a stand-in. */
export function additionalDataFor(credentials: Record<string, ICredentialDataDecryptedObject> = {}): IWorkflowExecuteAdditionalData {
	const credentialsHelper = new TestCredentialsHelper(credentials);
	return {
		credentialsHelper,
		executeWorkflow: async () => {
			throw new Error('not used');
		},
		restApiUrl: 'http://127.0.0.1:5678/rest',
		instanceBaseUrl: 'http://127.0.0.1:5678/',
		formWaitingBaseUrl: 'http://127.0.0.1:5678/form-waiting',
		webhookBaseUrl: 'http://127.0.0.1:5678/webhook',
		webhookWaitingBaseUrl: 'http://127.0.0.1:5678/webhook-waiting',
		webhookTestBaseUrl: 'http://127.0.0.1:5678/webhook-test',
		currentNodeParameters: undefined,
		executionTimeoutTimestamp: undefined,
		userId: 'test-user',
		variables: {},
		logAiEvent: () => undefined,
		startRunnerTask: async () => {
			throw new Error('not used');
		},
		getRunExecutionData: async () => undefined,
	} as unknown as IWorkflowExecuteAdditionalData;
}

export interface ActiveTrigger {
	/** Items emitted so far, one array per emit (one n8n execution each). */
	readonly emissions: INodeExecutionData[][];
	/** The deduplication key passed with each emit (n8n 2.x's fourth argument), in emit order. */
	readonly deduplicationKeys: Array<string | undefined>;
	/** Flattened json of every emitted item. */
	items(): IDataObject[];
	readonly errors: Error[];
	/** Resolves when at least `count` items were emitted (rejects after `timeoutMs`). */
	waitForItems(count: number, timeoutMs?: number): Promise<IDataObject[]>;
	waitForError(timeoutMs?: number): Promise<Error>;
	/** Deactivates the workflow as n8n does (calls the trigger's closeFunction). */
	deactivate(): Promise<void>;
}

/** Activates a one-trigger workflow in production mode through n8n-core's ActiveWorkflowTriggers. */
export async function activateTrigger(subject: NodeUnderTest): Promise<ActiveTrigger> {
	const { workflow } = buildWorkflow(subject);
	const additionalData = additionalDataFor(subject.credentials);
	const emissions: INodeExecutionData[][] = [];
	const deduplicationKeys: Array<string | undefined> = [];
	const errors: Error[] = [];
	const waiters = new Set<() => void>();
	const notify = () => waiters.forEach((w) => w());

	const getTriggerFunctions = (wf: Workflow, node: INode, data: IWorkflowExecuteAdditionalData, mode: WorkflowExecuteMode, activation: WorkflowActivateMode): ITriggerFunctions => {
		const context = new TriggerContext(
			wf,
			node,
			data,
			mode,
			activation,
			(data, _responsePromise, _donePromise, deduplicationKey) => {
				emissions.push(data[0] ?? []);
				deduplicationKeys.push(deduplicationKey);
				notify();
			},
			(error) => {
				errors.push(error);
				notify();
			},
		);
		return context;
	};

	const activeWorkflows = Container.get(ActiveWorkflowTriggers);
	await activeWorkflows.addAllTriggers(
		workflow.id,
		workflow,
		additionalData,
		'trigger',
		subject.activation ?? 'activate',
		getTriggerFunctions,
		() => {
			throw new Error('no poll nodes here');
		},
	);

	const items = () => emissions.flat().map((item) => item.json);
	const waitFor = <T>(ready: () => T | undefined, what: string, timeoutMs: number) =>
		new Promise<T>((resolve, reject) => {
			const check = () => {
				const value = ready();
				if (value === undefined) return;
				clearTimeout(timer);
				waiters.delete(check);
				resolve(value);
			};
			const timer = setTimeout(() => {
				waiters.delete(check);
				reject(new Error(`Timed out waiting for ${what}; items so far: ${JSON.stringify(items().map((i) => i.status))}, errors: ${errors.map((e) => e.message).join('; ')}`));
			}, timeoutMs);
			waiters.add(check);
			check();
		});

	return {
		emissions,
		deduplicationKeys,
		items,
		errors,
		waitForItems: (count, timeoutMs = 5000) => waitFor(() => (items().length >= count ? items() : undefined), `${count} items`, timeoutMs),
		waitForError: (timeoutMs = 5000) => waitFor(() => errors[0], 'an emitted error', timeoutMs),
		deactivate: async () => {
			await activeWorkflows.remove(workflow.id);
		},
	};
}

/** Activation that is expected to fail: returns the error n8n would show. */
export async function activateTriggerExpectingError(subject: NodeUnderTest): Promise<Error> {
	try {
		const active = await activateTrigger(subject);
		await active.deactivate();
	} catch (error) {
		return error as Error;
	}
	throw new Error('Activation succeeded but an error was expected');
}

export interface ManualRun {
	run: IRun;
	/** Output items of the node under test (first output). */
	items: IDataObject[];
	output: INodeExecutionData[];
	error: Error | undefined;
}

/**
 * Executes a workflow in manual mode, as the editor does: for a trigger this is "Listen for test
 * event"; for an action node, `inputItems` are fed in through a pinned start node.
 */
export async function runManually(subject: NodeUnderTest, inputItems?: INodeExecutionData[]): Promise<ManualRun> {
	const subjectName = subject.nodeType.description.defaults.name ?? 'Node';
	const input: INode = { id: 'input', name: 'Input', type: `${PACKAGE}.${INPUT_NODE_TYPE.description.name}`, typeVersion: 1, position: [0, 0], parameters: {} };
	const built = inputItems
		? buildWorkflow(subject, [input], { Input: { main: [[{ node: subjectName, type: 'main', index: 0 }]] } }, [INPUT_NODE_TYPE])
		: buildWorkflow(subject);
	const additionalData = additionalDataFor(subject.credentials);
	additionalData.hooks = new ExecutionLifecycleHooks('manual', `exec-${workflowCounter}`, {
		id: built.workflow.id,
		name: 'test workflow',
		active: false,
		nodes: [],
		connections: {},
		createdAt: new Date(),
		updatedAt: new Date(),
	} as never);
	const execute = new WorkflowExecute(additionalData, 'manual');
	const run = await execute.run({
		workflow: built.workflow,
		startNode: inputItems ? input : built.node,
		// Pinned data stands in for the input node's output, as in the editor.
		pinData: inputItems ? { Input: inputItems } : undefined,
	});
	const taskData = run.data.resultData.runData[subjectName]?.[0];
	const output = taskData?.data?.main?.[0] ?? [];
	return {
		run,
		items: output.map((item) => item.json),
		output,
		error: (taskData?.error as Error | undefined) ?? (run.data.resultData.error as Error | undefined),
	};
}

/** Stand-in for a manual trigger: its output is always pinned. */
const INPUT_NODE_TYPE: INodeType = {
	description: {
		displayName: 'Input',
		name: 'testInput',
		group: ['trigger'],
		version: 1,
		description: 'Feeds pinned items',
		defaults: { name: 'Input' },
		inputs: [],
		outputs: ['main' as never],
		properties: [],
	},
	async execute() {
		return [this.getInputData()];
	},
};

/** Runs a node's credential test the way n8n's credential tester does. */
export async function testCredential(
	nodeType: INodeType,
	testName: string,
	type: string,
	data: ICredentialDataDecryptedObject,
): Promise<INodeCredentialTestResult> {
	const test = (nodeType.methods?.credentialTest as Record<string, ICredentialTestFunction> | undefined)?.[testName];
	if (!test) throw new Error(`${nodeType.description.name} has no credential test ${testName}`);
	return await test.call(new CredentialTestContext(), { id: 'cred', name: 'test', type, data });
}
