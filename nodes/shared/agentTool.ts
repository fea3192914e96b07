import type { INode } from 'n8n-workflow';

/**
 * Whether n8n runs the node as an AI agent's tool: n8n offers every `usableAsTool` node as a tool
 * node of its own type, the node's type name with `Tool` appended (`…tachyon` → `…tachyonTool`),
 * whichever way it then executes it (a sub-node call, or the engine running it as a step).
 */
export function runsAsAgentTool(node: INode): boolean {
	return node.type.endsWith('Tool');
}
