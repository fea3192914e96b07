import type { INodeType, INodeTypeDescription, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';

import { NodeConnectionTypes } from '../shared/connectionTypes';
import { restCheckIntervalMs, restCheckOptionsProperty, runStreamTrigger, streamTriggerPanel } from '../shared/n8n';
import { KurierJobStream } from './KurierJobStream';
import type { KurierStreamTarget } from './KurierJobStream';
import { KURIER_CREDENTIAL_TEST, jobIdProperty, kurierApiCredentialTest, kurierClientFor, readJobId } from './kurierNodeCommon';
import { KURIER_PHASES } from './protocol';

export class KurierTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Kurier Trigger',
		name: 'kurierTrigger',
		icon: { light: 'file:kurierTrigger.svg', dark: 'file:kurierTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{$parameter["event"] === "job" ? "Job " + $parameter["jobId"] : "All jobs of the API key"}}',
		description: 'Starts the workflow the moment a Kurier (zkVerify) proof job changes status, over Kurier\'s WebSocket',
		eventTriggerDescription: 'Waiting for a Kurier job to change status',
		activationMessage: 'Your workflow will now run each time a Kurier job changes status.',
		triggerPanel: streamTriggerPanel('Kurier', 'status change of a Kurier job'),
		defaults: { name: 'Kurier Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'kurierApi', required: true, testedBy: 'kurierApiCredentialTest' }],
		properties: [
			{
				displayName: 'Event',
				name: 'event',
				type: 'options',
				options: [
					{ name: 'All Jobs', value: 'allJobs', description: 'Every job submitted with this API key' },
					{ name: 'One Job', value: 'job', description: 'Follow one job until it is final' },
				],
				default: 'allJobs',
				description: 'Which jobs to follow: every job of the credential\'s API key, or one job by its ID',
			},
			jobIdProperty(
				{ show: { event: ['job'] } },
				'The jobId that Submit Proof returned. If the job has already moved on, its current status is emitted at once.',
			),
			{
				displayName: 'Statuses',
				name: 'statuses',
				type: 'multiOptions',
				options: KURIER_PHASES.knownStatuses().map((status) => ({ name: status, value: status })),
				default: [],
				description: 'Only start the workflow for these statuses, e.g. Finalized and Failed. Empty: every status.',
			},
			restCheckOptionsProperty,
		],
	};

	methods = { credentialTest: { [KURIER_CREDENTIAL_TEST]: kurierApiCredentialTest } };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const target = readTarget(this);
		const statuses = this.getNodeParameter('statuses', []) as string[];
		const client = await kurierClientFor(this);
		return await runStreamTrigger(this, {
			redact: client.redact,
			createStream: (handlers) => new KurierJobStream({ client, target, statuses, logger: this.logger, sweepIntervalMs: restCheckIntervalMs(this), ...handlers }),
		});
	}
}

function readTarget(context: ITriggerFunctions): KurierStreamTarget {
	const event = context.getNodeParameter('event', 'allJobs') as string;
	if (event === 'allJobs') return { kind: 'allJobs' };
	return { kind: 'job', jobId: readJobId(context.getNode(), context.getNodeParameter('jobId', '')) };
}
