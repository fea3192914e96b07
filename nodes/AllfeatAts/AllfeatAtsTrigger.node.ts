import { NodeOperationError } from 'n8n-workflow';
import type { INodeType, INodeTypeDescription, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';

import { NodeConnectionTypes } from '../shared/connectionTypes';
import { restCheckIntervalMs, restCheckOptionsProperty, runStreamTrigger, streamsStartedTogether, streamTriggerPanel } from '../shared/n8n';
import { AllfeatTransactionStream } from './AllfeatTransactionStream';
import {
	ALLFEAT_CREDENTIAL_TEST,
	allfeatAtsApiCredentialTest,
	allfeatClientFor,
	readTransactionIds,
	stepsProperty,
	transactionIdsProperty,
} from './allfeatAtsNodeCommon';
import { NOT_FOUND_STATUS } from './protocol';

export class AllfeatAtsTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Allfeat ATS Trigger',
		name: 'allfeatAtsTrigger',
		icon: { light: 'file:allfeatAtsTrigger.svg', dark: 'file:allfeatAtsTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{"Transactions " + $parameter["transactionIds"]}}',
		description: 'Starts the workflow at each step of an Allfeat ATS work registration (validating … completed or failed), over its WebSocket',
		eventTriggerDescription: 'Waiting for an Allfeat ATS transaction to move to its next step',
		activationMessage: 'Your workflow will now run each time one of these Allfeat ATS transactions moves to its next step.',
		triggerPanel: streamTriggerPanel('Allfeat ATS', 'step of a followed Allfeat ATS transaction'),
		defaults: { name: 'Allfeat ATS Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'allfeatAtsApi', required: true, testedBy: 'allfeatAtsApiCredentialTest' }],
		properties: [transactionIdsProperty, stepsProperty, restCheckOptionsProperty],
	};

	methods = { credentialTest: { [ALLFEAT_CREDENTIAL_TEST]: allfeatAtsApiCredentialTest } };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const transactionIds = readTransactionIds(this.getNode(), this.getNodeParameter('transactionIds', ''));
		const steps = this.getNodeParameter('steps', []) as string[];
		const sweepIntervalMs = restCheckIntervalMs(this);
		const client = await allfeatClientFor(this);
		return await runStreamTrigger(this, {
			redact: client.redact,
			// One stream (and socket) per transaction: the service's channel is per id.
			createStream: (handlers) =>
				streamsStartedTogether(
					handlers,
					transactionIds.map((transactionId) => (onItem) => new AllfeatTransactionStream({ client, transactionId, steps, logger: this.logger, sweepIntervalMs, ...handlers, onItem })),
				),
			// Testing a single unknown id has nothing to show but the error; among several ids it is an item.
			manualRunError: (item) =>
				item.status === NOT_FOUND_STATUS && transactionIds.length === 1
					? new NodeOperationError(this.getNode(), item.error ?? 'Unknown transaction', {
							description: "Check the transaction ID, and that the credential's host is the Allfeat API it was registered with.",
						})
					: null,
		});
	}
}
