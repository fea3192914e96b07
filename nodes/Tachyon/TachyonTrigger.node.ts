import type { INodeType, INodeTypeDescription, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';

import { NodeConnectionTypes } from '../shared/connectionTypes';
import { splitIdList } from '../shared/idList';
import { restCheckIntervalMs, restCheckOptionsProperty, runStreamTrigger, streamTriggerPanel } from '../shared/n8n';
import { TachyonStream } from './TachyonStream';
import type { TachyonStreamFilters } from './TachyonStream';
import { TACHYON_CREDENTIAL_TEST, parseChainIdList, tachyonApiCredentialTest, tachyonClientFor } from './tachyonNodeCommon';
import { TACHYON_PHASES } from './protocol';

export class TachyonTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Tachyon Trigger',
		name: 'tachyonTrigger',
		icon: { light: 'file:tachyonTrigger.svg', dark: 'file:tachyonTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{$parameter["statuses"].length ? $parameter["statuses"].join(", ") : "Every status change"}}',
		description: "Starts the workflow the moment a transaction relayed by Tachyon (rath.fi) changes status, over Tachyon's WebSocket",
		eventTriggerDescription: 'Waiting for a Tachyon transaction to change status',
		activationMessage: 'Your workflow will now run each time a Tachyon transaction of the account changes status.',
		triggerPanel: streamTriggerPanel('Tachyon', 'status change of a Tachyon transaction'),
		defaults: { name: 'Tachyon Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'tachyonApi', required: true, testedBy: 'tachyonApiCredentialTest' }],
		properties: [
			{
				displayName:
					"Uses the credential's WebSocket Key when set; otherwise registers the WebSocket on activation, with the dashboard JWT if the credential has one, else with the API key. Every transaction of the account is streamed.",
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
			restCheckOptionsProperty,
		],
	};

	methods = { credentialTest: { [TACHYON_CREDENTIAL_TEST]: tachyonApiCredentialTest } };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const filters = readFilters(this);
		const client = await tachyonClientFor(this);
		return await runStreamTrigger(this, {
			redact: client.redact,
			createStream: (handlers) => new TachyonStream({ client, filters, logger: this.logger, sweepIntervalMs: restCheckIntervalMs(this), ...handlers }),
		});
	}
}

function readFilters(context: ITriggerFunctions): TachyonStreamFilters {
	return {
		statuses: context.getNodeParameter('statuses', []) as string[],
		txIds: splitIdList(context.getNodeParameter('txIds', '')),
		chainIds: parseChainIdList(context.getNode(), context.getNodeParameter('chainIds', '')),
	};
}
