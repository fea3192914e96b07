import { NodeOperationError } from 'n8n-workflow';
import type { INodeType, INodeTypeDescription, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';

import type { NormalizedItem } from '../shared/NormalizedItem';
import { asItemJson, toNodeError } from '../shared/n8n';
import { createRedactor } from '../shared/redact';
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
		icon: 'file:allfeatAtsTrigger.svg',
		group: ['trigger'],
		version: 1,
		subtitle: '={{"Transactions " + $parameter["transactionIds"]}}',
		description: 'Starts the workflow at each step of an Allfeat ATS work registration (validating … completed or failed), over its WebSocket',
		defaults: { name: 'Allfeat ATS Trigger' },
		inputs: [],
		outputs: ['main'],
		credentials: [{ name: 'allfeatAtsApi', required: true, testedBy: ALLFEAT_CREDENTIAL_TEST }],
		properties: [transactionIdsProperty, stepsProperty],
	};

	methods = { credentialTest: { [ALLFEAT_CREDENTIAL_TEST]: allfeatAtsApiCredentialTest } };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const transactionIds = readTransactionIds(this.getNode(), this.getNodeParameter('transactionIds', ''));
		const steps = this.getNodeParameter('steps', []) as string[];
		const client = await allfeatClientFor(this).catch((error: unknown) => {
			throw toNodeError(this.getNode(), error, createRedactor([]));
		});
		const manual = this.getMode() === 'manual';
		let delivered = false;
		let starting = true;
		// An unknown sole id found while starting fails the test run from start() (emitError would come too early).
		let unknownWhileStarting: NodeOperationError | null = null;

		const emit = (item: NormalizedItem) => {
			// this.emit is read at event time: n8n swaps it after trigger() returns in manual mode.
			this.emit([this.helpers.returnJsonArray([asItemJson(item)])]);
		};
		const onManualItem = (item: NormalizedItem) => {
			// "Listen for test event" wants one item; later ones would go nowhere.
			if (delivered) return;
			delivered = true;
			void closeAll();
			if (item.status === NOT_FOUND_STATUS && transactionIds.length === 1) {
				const error = new NodeOperationError(this.getNode(), item.error ?? 'Unknown transaction', {
					description: 'Check the transaction ID, and that the credential\'s base URL is the ATS API of the network it was registered on.',
				});
				if (starting) unknownWhileStarting = error;
				else this.emitError(error);
				return;
			}
			emit(item);
		};

		const streams = transactionIds.map(
			(transactionId) =>
				new AllfeatTransactionStream({
					client,
					transactionId,
					steps,
					logger: this.logger,
					onItem: manual ? onManualItem : emit,
					onFatal: (error: Error) => this.emitError(toNodeError(this.getNode(), error, client.redact)),
				}),
		);
		// Must never throw: a failing close blocks deactivation.
		const closeAll = async () => {
			await Promise.all(streams.map(async (stream) => await stream.close().catch(() => undefined)));
		};

		const start = async () => {
			try {
				await Promise.all(streams.map(async (stream) => await stream.start()));
			} catch (error) {
				await closeAll();
				throw toNodeError(this.getNode(), error, client.redact);
			} finally {
				starting = false;
			}
			if (unknownWhileStarting) throw unknownWhileStarting;
		};

		if (manual) return { closeFunction: closeAll, manualTriggerFunction: start };
		await start();
		return { closeFunction: closeAll };
	}
}
