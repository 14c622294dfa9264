"""The official Python MCP SDK against agentq-mcp over stdio: list the tools, queue a job, wait
for it, and ask for a job that does not exist. Prints one JSON report for the Rust test.

usage: python3 mcp_client.py AGENTQ_MCP_BINARY TASK_ID AGENT_ID   (settings from the environment)
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(binary: str, task: int, agent: int) -> dict:
    server = StdioServerParameters(command=binary, args=[], env=dict(os.environ))
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            queued = await session.call_tool("queue_agent_job", {"task_id": task, "agent_id": agent})
            job = queued.structuredContent["jobId"]
            waited = await session.call_tool("wait_for_agent_job", {"job_id": job, "timeout_secs": 30})
            missing = await session.call_tool("get_agent_job_status", {"job_id": "no-such-job"})
            return {
                "tools": sorted(t.name for t in tools.tools),
                "waited": waited.structuredContent,
                "missing": {"isError": missing.isError, "content": missing.structuredContent},
            }


if __name__ == "__main__":
    report = asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    print(json.dumps(report))
