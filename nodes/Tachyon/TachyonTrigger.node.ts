import type { INodeType, INodeTypeDescription, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';

import type { NormalizedItem } from '../shared/NormalizedItem';
import { asItemJson, toNodeError } from '../shared/n8n';
import { TachyonStream } from './TachyonStream';
import type { TachyonStreamFilters } from './TachyonStream';
import { TACHYON_CREDENTIAL_TEST, parseChainIdList, parseTxIdList, tachyonApiCredentialTest, tachyonClientFor } from './tachyonNodeCommon';
import { TACHYON_PHASES } from './protocol';

export class TachyonTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Tachyon Trigger',
		name: 'tachyonTrigger',
		icon: 'file:tachyonTrigger.svg',
		group: ['trigger'],
		version: 1,
		subtitle: '={{$parameter["statuses"].length ? $parameter["statuses"].join(", ") : "Every status change"}}',
		description: "Starts the workflow the moment a transaction relayed by Tachyon (rath.fi) changes status, over Tachyon's WebSocket",
		defaults: { name: 'Tachyon Trigger' },
		inputs: [],
		outputs: ['main'],
		credentials: [{ name: 'tachyonApi', required: true, testedBy: TACHYON_CREDENTIAL_TEST }],
		properties: [
			{
				displayName:
					"Uses the credential's WebSocket URL and Key when both are set; otherwise registers them on activation with the credential's dashboard JWT. Every transaction of the account is streamed.",
				name: 'connectionNotice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Statuses',
				name: 'statuses',
				type: 'multiOptions',
				options: TACHYON_PHASES.knownStatuses().map((status) => ({ name: status, value: status })),
				default: [],
				description: 'Only start the workflow for these statuses, e.g. EXECUTED for a next step, FAILED for an alert. Empty: every status.',
			},
			{
				displayName: 'Transaction IDs',
				name: 'txIds',
				type: 'string',
				default: '',
				placeholder: '68fa3450539a3c9d28bbca33, 68fa3450539a3c9d28bbca34',
				description: 'Only these transactions (separated by commas or spaces). Empty: every transaction of the account.',
			},
			{
				displayName: 'Chain IDs',
				name: 'chainIds',
				type: 'string',
				default: '',
				placeholder: '8453, 42161',
				description: 'Only transactions on these chains (numeric chain IDs, separated by commas). Empty: every chain.',
			},
		],
	};

	methods = { credentialTest: { [TACHYON_CREDENTIAL_TEST]: tachyonApiCredentialTest } };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const filters = readFilters(this);
		const client = await tachyonClientFor(this);
		const manual = this.getMode() === 'manual';
		let delivered = false;

		const stream = new TachyonStream({
			client,
			filters,
			logger: this.logger,
			onItem: (item: NormalizedItem) => {
				// "Listen for test event" wants one item; later ones would go nowhere.
				if (manual && delivered) return;
				delivered = true;
				// this.emit is read at event time: n8n swaps it after trigger() returns in manual mode.
				this.emit([this.helpers.returnJsonArray([asItemJson(item)])]);
				if (manual) void stream.close();
			},
			onFatal: (error: Error) => this.emitError(toNodeError(this.getNode(), error, client.redact)),
		});

		const start = async () => {
			try {
				await stream.start();
			} catch (error) {
				throw toNodeError(this.getNode(), error, client.redact);
			}
		};
		const closeFunction = async () => {
			// Must never throw: a failing close blocks deactivation.
			await stream.close().catch(() => undefined);
		};

		if (manual) return { closeFunction, manualTriggerFunction: start };
		await start();
		return { closeFunction };
	}
}

function readFilters(context: ITriggerFunctions): TachyonStreamFilters {
	return {
		statuses: context.getNodeParameter('statuses', []) as string[],
		txIds: parseTxIdList(context.getNodeParameter('txIds', '')),
		chainIds: parseChainIdList(context.getNode(), context.getNodeParameter('chainIds', '')),
	};
}
