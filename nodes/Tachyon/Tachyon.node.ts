import { NodeOperationError } from 'n8n-workflow';
import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { runsAsAgentTool } from '../shared/agentTool';
import { NodeConnectionTypes } from '../shared/connectionTypes';
import { asItemJson, executeForEachItem, failedOutcomeAsAsked, runWaitOperation } from '../shared/n8n';
import { failOnFailureProperty, timeoutSecondsProperty, waitOptionsProperty } from '../shared/waitProperties';
import type { WaitParameters } from '../shared/waitProperties';
import type { TachyonApiClient } from './TachyonApiClient';
import { TACHYON_CREDENTIAL_TEST, readAuthorizationList, readTxId, tachyonApiCredentialTest, tachyonClientFor } from './tachyonNodeCommon';
import { SYNC_TIMEOUT_MAX_MS, SYNC_TIMEOUT_MIN_MS, normalizeTachyonTransaction, parseSubmitTxRequest } from './protocol';
import { waitForTachyonTransaction } from './waitForTransaction';

const show = (operation: string[]) => ({ displayOptions: { show: { operation } } });
const RELAY_OPERATIONS = ['relayTransaction', 'relayAndWait'];

const WAIT: WaitParameters = {
	timeout: { default: 120, description: 'Fail if the transaction is not final by then. Most relays execute within seconds; retries take longer.' },
	failOnFailure: {
		name: 'failOnTransactionFailure',
		displayName: 'Fail If the Transaction Failed',
		description: 'Whether to stop with an error when the transaction ends FAILED. Off: the failed item is output.',
	},
	pollInterval: {
		default: 5,
		description: 'The wait listens on the WebSocket and also reads the transaction this often over REST (alone when the socket cannot be had)',
	},
};

const properties: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Get Transaction',
				value: 'getTransaction',
				action: 'Get the status of a relayed transaction',
				description: "Read a relayed transaction's current status by its txId. Returns status (NOT_PICKED_UP, PENDING, NEEDS_TO_BE_RETRIED, EXECUTED, FAILED), phase, isFinal, txHash and error.",
			},
			{
				name: 'Register WebSocket',
				value: 'registerWebsocket',
				action: 'Register the websocket',
				description: "Create (or return) the account's WebSocket URL and key. The output contains that secret key, so this operation is refused when the node runs as an AI agent's tool.",
			},
			{
				name: 'Relay and Wait',
				value: 'relayAndWait',
				action: 'Relay a transaction and wait for it',
				description: 'Submit a transaction and let Tachyon hold the request until it is final, up to 120 s (POST /api/submit-tx-sync). Returns status, phase, isFinal and txHash.',
			},
			{
				name: 'Relay Transaction',
				value: 'relayTransaction',
				action: 'Relay a transaction',
				description: 'Submit a transaction for Tachyon to execute on-chain (POST /api/submit-tx). Returns the txId to follow.',
			},
			{
				name: 'Wait for Transaction',
				value: 'waitForTransaction',
				action: 'Wait for a transaction to be final',
				description: 'Wait until the transaction is EXECUTED or FAILED, over the WebSocket with REST polling beside it',
			},
		],
		default: 'relayTransaction',
		description: 'Relay a transaction (and wait for it), read or wait for one\'s status, or register the account\'s WebSocket',
	},
	{
		displayName: 'Chain ID',
		name: 'chainId',
		type: 'number',
		default: 8453,
		required: true,
		description: 'Numeric chain ID of the chain to relay on, e.g. 8453 (Base), 84532 (Base Sepolia), 10100000 (Solana), 88888888 (Aptos)',
		...show(RELAY_OPERATIONS),
	},
	{
		displayName: 'To',
		name: 'to',
		type: 'string',
		default: '',
		required: true,
		placeholder: '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49',
		description: 'Destination address: hex on EVM chains, base58 on Solana, an account name on NEAR',
		...show(RELAY_OPERATIONS),
	},
	{
		displayName: 'Call Data',
		name: 'callData',
		type: 'string',
		default: '0x',
		required: true,
		description: 'Encoded call as hex starting with 0x; "0x" for a plain transfer',
		...show(RELAY_OPERATIONS),
	},
	{
		displayName: 'Value',
		name: 'value',
		type: 'string',
		default: '0',
		description: "Amount to send in the chain's smallest unit (wei, lamports, …), as a string of digits such as \"1000000000000000\" (0.001 ETH); \"0\" for none",
		...show(RELAY_OPERATIONS),
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		description: 'Optional fields of the relay request: gas settings, cost limit, retries, label',
		...show(RELAY_OPERATIONS),
		options: [
			{
				displayName: 'Authorization List',
				name: 'authorizationList',
				type: 'string',
				typeOptions: { rows: 4 },
				default: '',
				placeholder: '[{"chainId": 8453, "address": "0x…", "nonce": 0, "r": "0x…", "s": "0x…", "yParity": 0}]',
				description: 'EIP-7702 authorizations as a JSON array (or an expression giving one). Each needs chainId, address, nonce, r, s and yParity; checked before sending.',
			},
			{ displayName: 'Batch in Multicall', name: 'shouldBatchInMulticall', type: 'boolean', default: false, description: 'Whether Tachyon may batch this call with others in a multicall' },
			{
				displayName: 'Derivation Path',
				name: 'derivationPath',
				type: 'string',
				default: '',
				placeholder: "m/44'/60'/0'/0/1",
				description: 'For authenticated transactions: which derived address of your account sends it',
			},
			{ displayName: 'Gas Limit', name: 'gasLimit', type: 'string', default: '', description: 'As digits. Required on Aptos and Sui.' },
			{ displayName: 'Gas Price', name: 'gasPrice', type: 'string', default: '', description: 'Legacy gas price in wei as digits. Not together with the EIP-1559 fields.' },
			{
				displayName: 'Is Authenticated Transaction',
				name: 'isAuthenticatedTx',
				type: 'boolean',
				default: false,
				description: 'Whether Tachyon sends it from your account\'s own (authenticated) relayer address instead of a shared one',
			},
			{ displayName: 'Label', name: 'label', type: 'string', default: '', description: 'Your name for the transaction, shown in the Tachyon dashboard' },
			{ displayName: 'Max Fee Per Gas', name: 'maxFeePerGas', type: 'string', default: '', description: 'EIP-1559, in wei as digits. Give Max Priority Fee Per Gas too.' },
			{ displayName: 'Max Priority Fee Per Gas', name: 'maxPriorityFeePerGas', type: 'string', default: '', description: 'EIP-1559, in wei as digits. Give Max Fee Per Gas too.' },
			{ displayName: 'Max USD', name: 'maxUSD', type: 'number', typeOptions: { minValue: 0, numberPrecision: 4 }, default: 1, description: 'Refuse to execute if the cost would exceed this many US dollars' },
			{ displayName: 'Retries', name: 'retries', type: 'number', typeOptions: { minValue: 0 }, default: 0, description: 'How many times Tachyon may retry a failed execution' },
			{ displayName: 'Transaction Type', name: 'transactionType', type: 'string', default: 'flash', description: 'Tachyon\'s execution mode; "flash" is the default' },
		],
	},
	{
		displayName: 'Server Wait (Seconds)',
		name: 'syncTimeoutSeconds',
		type: 'number',
		typeOptions: { minValue: SYNC_TIMEOUT_MIN_MS / 1000, maxValue: SYNC_TIMEOUT_MAX_MS / 1000 },
		default: 30,
		description: 'How long Tachyon holds the request open for a final status (1 to 120). If it is not final by then, the latest status is output with isFinal false.',
		...show(['relayAndWait']),
	},
	{
		displayName: 'Sync Options',
		name: 'syncOptions',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		description: 'Extra details Tachyon can add to the final status',
		...show(['relayAndWait']),
		options: [
			{ displayName: 'Include Receipt', name: 'includeReceipt', type: 'boolean', default: false, description: 'Whether to add the on-chain transaction receipt when available (in details.receipt)' },
			{
				displayName: 'Include Revert Info',
				name: 'includeRevertInfo',
				type: 'boolean',
				default: false,
				description: 'Whether to add decoded revert information for a failed transaction when available',
			},
		],
	},
	{
		displayName: 'Transaction ID',
		name: 'txId',
		type: 'string',
		default: '',
		required: true,
		placeholder: '68fa3450539a3c9d28bbca33',
		description: 'The Tachyon transaction ID (such as 68fa3450539a3c9d28bbca33) that Relay Transaction returned as txId',
		...show(['getTransaction', 'waitForTransaction']),
	},
	timeoutSecondsProperty(WAIT, show(['waitForTransaction']).displayOptions),
	failOnFailureProperty(WAIT, show(['waitForTransaction', 'relayAndWait']).displayOptions),
	waitOptionsProperty(WAIT, show(['waitForTransaction']).displayOptions),
	{
		displayName:
			"The output contains the account's WebSocket key, a secret. Store it in the Tachyon credential (WebSocket URL and WebSocket Key) rather than passing it on; the Tachyon Trigger can also register it by itself. Registers with the dashboard JWT when the credential has one, else with the API key.",
		name: 'registerNotice',
		type: 'notice',
		default: '',
		...show(['registerWebsocket']),
	},
];

export class Tachyon implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Tachyon',
		name: 'tachyon',
		icon: { light: 'file:tachyon.svg', dark: 'file:tachyon.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			"Relay transactions with Tachyon (rath.fi) and read or wait for their status. Register WebSocket is this package's only output that carries a secret key (obtaining it is the operation's purpose), so AI agents cannot call it.",
		defaults: { name: 'Tachyon' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'tachyonApi', required: true, testedBy: 'tachyonApiCredentialTest' }],
		properties,
	};

	methods = { credentialTest: { [TACHYON_CREDENTIAL_TEST]: tachyonApiCredentialTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const client = await tachyonClientFor(this);
		return await executeForEachItem(this, client.redact, async (itemIndex) => await runOperation(this, client, itemIndex));
	}
}

async function runOperation(context: IExecuteFunctions, client: TachyonApiClient, itemIndex: number): Promise<IDataObject> {
	const operation = context.getNodeParameter('operation', itemIndex) as string;
	switch (operation) {
		case 'relayTransaction':
			return (await client.submitTransaction(readSubmitRequest(context, itemIndex))) as IDataObject;
		case 'relayAndWait':
			return await relayAndWait(context, client, itemIndex);
		case 'getTransaction': {
			const txId = readTxId(context.getNode(), context.getNodeParameter('txId', itemIndex, ''), itemIndex);
			return asItemJson(normalizeTachyonTransaction(await client.getTransaction(txId), new Date().toISOString()));
		}
		case 'waitForTransaction':
			return await waitForTransaction(context, client, itemIndex);
		case 'registerWebsocket':
			// What a tool returns goes into the language model's context, and this is a secret.
			if (runsAsAgentTool(context.getNode())) {
				throw new NodeOperationError(context.getNode(), 'Register WebSocket is not available to AI agents: its output is a secret key', {
					itemIndex,
					description: 'Register the WebSocket in a workflow (or let the Tachyon Trigger do it) and store the key in the Tachyon credential.',
				});
			}
			// The one output of this package that carries a key: returning it is the operation's purpose.
			return await client.registerWebsocket();
		default:
			throw new NodeOperationError(context.getNode(), `Unknown operation "${operation}"`, { itemIndex });
	}
}

async function waitForTransaction(context: IExecuteFunctions, client: TachyonApiClient, itemIndex: number): Promise<IDataObject> {
	const txId = readTxId(context.getNode(), context.getNodeParameter('txId', itemIndex, ''), itemIndex);
	return await runWaitOperation(context, itemIndex, {
		parameters: WAIT,
		subject: `Tachyon transaction ${txId}`,
		timeoutHint: 'use the Tachyon Trigger (Statuses = EXECUTED, FAILED) to react when the transaction is final',
		wait: async (timing) => await waitForTachyonTransaction({ client, txId, logger: context.logger, ...timing }),
	});
}

/** submit-tx-sync: the server waits; a FAILED outcome fails the node when asked, a non-final one is output as is. */
async function relayAndWait(context: IExecuteFunctions, client: TachyonApiClient, itemIndex: number): Promise<IDataObject> {
	const request = readSubmitRequest(context, itemIndex);
	const seconds = Number(context.getNodeParameter('syncTimeoutSeconds', itemIndex, 30));
	const timeoutMs = Math.round(seconds * 1000);
	if (!(timeoutMs >= SYNC_TIMEOUT_MIN_MS && timeoutMs <= SYNC_TIMEOUT_MAX_MS)) {
		throw new NodeOperationError(context.getNode(), `Server Wait must be between ${SYNC_TIMEOUT_MIN_MS / 1000} and ${SYNC_TIMEOUT_MAX_MS / 1000} seconds, not ${String(seconds)}`, {
			itemIndex,
			description: 'Tachyon holds the request at most 120 s. For longer waits use Relay Transaction, then Wait for Transaction.',
		});
	}
	const syncOptions = context.getNodeParameter('syncOptions', itemIndex, {}) as IDataObject;
	const transaction = await client.submitTransactionSync(
		request,
		{ timeoutMs, includeReceipt: syncOptions.includeReceipt === true, includeRevertInfo: syncOptions.includeRevertInfo === true },
		context.getExecutionCancelSignal?.(),
	);
	const item = normalizeTachyonTransaction(transaction, new Date().toISOString());
	return failedOutcomeAsAsked(context, itemIndex, item, WAIT, `Tachyon transaction ${item.id}`);
}

/** The submit body from the parameters, checked before anything is sent. Empty optional fields are left out. */
function readSubmitRequest(context: IExecuteFunctions, itemIndex: number) {
	const additional = context.getNodeParameter('additionalFields', itemIndex, {}) as IDataObject;
	const value = String(context.getNodeParameter('value', itemIndex, '0') ?? '').trim();
	const input: Record<string, unknown> = {
		chainId: context.getNodeParameter('chainId', itemIndex),
		to: context.getNodeParameter('to', itemIndex),
		callData: context.getNodeParameter('callData', itemIndex),
		value: value === '' ? '0' : value,
	};
	for (const [field, fieldValue] of Object.entries(additional)) {
		const trimmed = typeof fieldValue === 'string' ? fieldValue.trim() : fieldValue;
		if (trimmed !== '' && trimmed !== undefined && trimmed !== null) input[field] = trimmed;
	}
	// false is the service's default: sent only when on, so a plain relay body stays as before.
	if (input.isAuthenticatedTx === false) delete input.isAuthenticatedTx;
	if (input.authorizationList !== undefined) input.authorizationList = readAuthorizationList(context.getNode(), input.authorizationList, itemIndex);
	const parsed = parseSubmitTxRequest(input);
	if (!parsed.ok) {
		throw new NodeOperationError(context.getNode(), parsed.message, {
			itemIndex,
			description: 'Nothing was sent to Tachyon. Fix the field and run again.',
		});
	}
	return parsed.request;
}
