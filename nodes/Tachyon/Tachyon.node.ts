import { NodeOperationError } from 'n8n-workflow';
import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { asItemJson, executeForEachItem } from '../shared/n8n';
import type { TachyonApiClient } from './TachyonApiClient';
import { TACHYON_CREDENTIAL_TEST, readTxId, tachyonApiCredentialTest, tachyonClientFor } from './tachyonNodeCommon';
import { normalizeTachyonTransaction, parseSubmitTxRequest } from './protocol';

const show = (operation: string[]) => ({ displayOptions: { show: { operation } } });

const properties: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Relay Transaction',
				value: 'relayTransaction',
				action: 'Relay a transaction',
				description: 'Submit a transaction for Tachyon to execute on-chain (POST /api/submit-tx)',
			},
			{
				name: 'Get Transaction',
				value: 'getTransaction',
				action: 'Get a transaction',
				description: "Read a relayed transaction's current status as a normalized item",
			},
			{
				name: 'Register WebSocket',
				value: 'registerWebsocket',
				action: 'Register the WebSocket',
				description: "Create (or return) the account's WebSocket URL and key. The output contains that secret key.",
			},
		],
		default: 'relayTransaction',
		description: 'Relay a transaction, read one\'s status, or register the account\'s WebSocket',
	},
	{
		displayName: 'Chain ID',
		name: 'chainId',
		type: 'number',
		default: 8453,
		required: true,
		description: 'Numeric chain ID, e.g. 8453 (Base), 10100000 (Solana), 88888888 (Aptos)',
		...show(['relayTransaction']),
	},
	{
		displayName: 'To',
		name: 'to',
		type: 'string',
		default: '',
		required: true,
		placeholder: '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49',
		description: 'Destination address: hex on EVM chains, base58 on Solana, an account name on NEAR',
		...show(['relayTransaction']),
	},
	{
		displayName: 'Call Data',
		name: 'callData',
		type: 'string',
		default: '0x',
		required: true,
		description: 'Encoded call as hex starting with 0x; "0x" for a plain transfer',
		...show(['relayTransaction']),
	},
	{
		displayName: 'Value',
		name: 'value',
		type: 'string',
		default: '0',
		description: "Amount to send in the chain's smallest unit (wei, lamports, …), as digits",
		...show(['relayTransaction']),
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		description: 'Optional fields of the relay request: gas settings, cost limit, retries, label',
		...show(['relayTransaction']),
		options: [
			{ displayName: 'Label', name: 'label', type: 'string', default: '', description: 'Your name for the transaction, shown in the Tachyon dashboard' },
			{ displayName: 'Gas Limit', name: 'gasLimit', type: 'string', default: '', description: 'As digits. Required on Aptos and Sui.' },
			{ displayName: 'Max Fee Per Gas', name: 'maxFeePerGas', type: 'string', default: '', description: 'EIP-1559, in wei as digits. Give Max Priority Fee Per Gas too.' },
			{ displayName: 'Max Priority Fee Per Gas', name: 'maxPriorityFeePerGas', type: 'string', default: '', description: 'EIP-1559, in wei as digits. Give Max Fee Per Gas too.' },
			{ displayName: 'Gas Price', name: 'gasPrice', type: 'string', default: '', description: 'Legacy gas price in wei as digits. Not together with the EIP-1559 fields.' },
			{ displayName: 'Max USD', name: 'maxUSD', type: 'number', typeOptions: { minValue: 0, numberPrecision: 4 }, default: 1, description: 'Refuse to execute if the cost would exceed this many US dollars' },
			{ displayName: 'Retries', name: 'retries', type: 'number', typeOptions: { minValue: 0 }, default: 0, description: 'How many times Tachyon may retry a failed execution' },
			{ displayName: 'Batch in Multicall', name: 'shouldBatchInMulticall', type: 'boolean', default: false, description: 'Whether Tachyon may batch this call with others in a multicall' },
			{ displayName: 'Transaction Type', name: 'transactionType', type: 'string', default: 'flash', description: 'Tachyon\'s execution mode; "flash" is the default' },
		],
	},
	{
		displayName: 'Transaction ID',
		name: 'txId',
		type: 'string',
		default: '',
		required: true,
		placeholder: '68fa3450539a3c9d28bbca33',
		description: 'The txId that Relay Transaction returned',
		...show(['getTransaction']),
	},
	{
		displayName:
			"The output contains the account's WebSocket key, a secret. Store it in the Tachyon credential (WebSocket URL and WebSocket Key) rather than passing it on; the Tachyon Trigger can also register it by itself from the dashboard JWT.",
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
		icon: 'file:tachyon.svg',
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			"Relay transactions with Tachyon (rath.fi) and read their status. Register WebSocket is this package's only output that carries a secret key: obtaining it is the operation's purpose.",
		defaults: { name: 'Tachyon' },
		inputs: ['main'],
		outputs: ['main'],
		credentials: [{ name: 'tachyonApi', required: true, testedBy: TACHYON_CREDENTIAL_TEST }],
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
		case 'getTransaction': {
			const txId = readTxId(context.getNode(), context.getNodeParameter('txId', itemIndex, ''), itemIndex);
			return asItemJson(normalizeTachyonTransaction(await client.getTransaction(txId), new Date().toISOString()));
		}
		case 'registerWebsocket':
			// The one output of this package that carries a key: returning it is the operation's purpose.
			return await client.registerWebsocket();
		default:
			throw new NodeOperationError(context.getNode(), `Unknown operation "${operation}"`, { itemIndex });
	}
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
	const parsed = parseSubmitTxRequest(input);
	if (!parsed.ok) {
		throw new NodeOperationError(context.getNode(), parsed.message, {
			itemIndex,
			description: 'Nothing was sent to Tachyon. Fix the field and run again.',
		});
	}
	return parsed.request;
}
