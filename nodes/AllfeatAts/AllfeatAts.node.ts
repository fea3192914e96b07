import { NodeOperationError } from 'n8n-workflow';
import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { NodeConnectionTypes } from '../shared/connectionTypes';
import { asItemJson, executeForEachItem, runWaitOperation } from '../shared/n8n';
import { failOnFailureProperty, timeoutSecondsProperty, waitOptionsProperty } from '../shared/waitProperties';
import type { WaitParameters } from '../shared/waitProperties';
import type { AllfeatAtsApiClient } from './AllfeatAtsApiClient';
import { ALLFEAT_CREDENTIAL_TEST, allfeatAtsApiCredentialTest, allfeatClientFor, readTransactionId, transactionIdProperty } from './allfeatAtsNodeCommon';
import { normalizeTransaction } from './protocol';
import { waitForAllfeatTransaction } from './waitForTransaction';
import { isRegistrationOperation, registrationProperties, runRegistration } from './registerOperations';
import type { SeenRegistrations } from './registerOperations';

const show = (operation: string[]) => ({ displayOptions: { show: { operation } } });

const WAIT: WaitParameters = {
	timeout: {
		default: 300,
		description: 'Fail if the transaction is not final by then. A registration usually takes a few blocks (6 s on mainnet, 12 s on testnet).',
	},
	failOnFailure: {
		name: 'failOnTransactionFailure',
		displayName: 'Fail If the Transaction Failed',
		description: 'Whether to stop with an error when the transaction ends in failed. Off: the failed item is output.',
	},
	pollInterval: {
		default: 2,
		description: 'The wait listens on the WebSocket; only when it cannot be had does it poll the REST resource this often (slower after 30 s)',
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
				action: 'Get a transaction',
				description: 'Read a transaction\'s current step, as a normalized item with its step history',
			},
			{
				name: 'Wait for Transaction',
				value: 'waitForTransaction',
				action: 'Wait for a transaction to be final',
				description: 'Wait until the transaction is completed or failed',
			},
			{
				name: 'Register Work',
				value: 'registerWork',
				action: 'Register a work',
				description: 'Upload the item\'s audio, get the price quote and confirm: creates the registration transaction, exactly once',
			},
			{
				name: 'Add Version',
				value: 'addVersion',
				action: 'Add a version to a work',
				description: 'Register a new version of a work, with its registered file or a new one',
			},
		],
		default: 'getTransaction',
		description: 'Read a transaction\'s current step once, or wait until it is completed or failed',
	},
	transactionIdProperty(show(['getTransaction', 'waitForTransaction']).displayOptions),
	timeoutSecondsProperty(WAIT, show(['waitForTransaction']).displayOptions),
	failOnFailureProperty(WAIT, show(['waitForTransaction']).displayOptions),
	waitOptionsProperty(WAIT, show(['waitForTransaction']).displayOptions),
	...registrationProperties,
];

export class AllfeatAts implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Allfeat ATS',
		name: 'allfeatAts',
		icon: { light: 'file:allfeatAts.svg', dark: 'file:allfeatAts.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description: 'Register Allfeat ATS works and versions, and read and wait for their transactions',
		defaults: { name: 'Allfeat ATS' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'allfeatAtsApi', required: true, testedBy: 'allfeatAtsApiCredentialTest' }],
		properties,
	};

	methods = { credentialTest: { [ALLFEAT_CREDENTIAL_TEST]: allfeatAtsApiCredentialTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const client = await allfeatClientFor(this);
		const seen: SeenRegistrations = new Map();
		return await executeForEachItem(this, client.redact, async (itemIndex) => await runOperation(this, client, itemIndex, seen));
	}
}

async function runOperation(context: IExecuteFunctions, client: AllfeatAtsApiClient, itemIndex: number, seen: SeenRegistrations): Promise<IDataObject> {
	const operation = context.getNodeParameter('operation', itemIndex) as string;
	if (isRegistrationOperation(operation)) return await runRegistration(context, client, operation, itemIndex, seen);
	const transactionId = readTransactionId(context.getNode(), context.getNodeParameter('transactionId', itemIndex, ''), itemIndex);
	switch (operation) {
		case 'getTransaction':
			return asItemJson(normalizeTransaction(transactionId, await client.getTransaction(transactionId), new Date().toISOString()));
		case 'waitForTransaction':
			return await waitForTransaction(context, client, transactionId, itemIndex);
		default:
			throw new NodeOperationError(context.getNode(), `Unknown operation "${operation}"`, { itemIndex });
	}
}

async function waitForTransaction(context: IExecuteFunctions, client: AllfeatAtsApiClient, transactionId: string, itemIndex: number): Promise<IDataObject> {
	return await runWaitOperation(context, itemIndex, {
		parameters: WAIT,
		subject: `Allfeat ATS transaction ${transactionId}`,
		timeoutHint: 'use the Allfeat ATS Trigger (or its webhook trigger) to react when the transaction moves on',
		wait: async (timing) => await waitForAllfeatTransaction({ client, transactionId, logger: context.logger, ...timing }),
	});
}
