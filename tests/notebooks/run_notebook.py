#!/usr/bin/env python3
"""Runs a notebook's code cells one by one in a real Jupyter kernel and reports every output as JSON.

    run_notebook.py NOTEBOOK [--kernel NAME] [--timeout S] [--grace S] [--output EXECUTED.ipynb]
                    [--kernel-stderr FILE]

The kernel starts in the notebook's folder, as Jupyter front ends start it. Cells run in order; the
first cell that raises stops the run (later cells usually depend on it). The JSON report on stdout is
{"kernel": ..., "ok": bool, "cells": [{"index", "status", "execution_count", "seconds", "outputs"}]},
with outputs in nbformat's shape; the exit status is 0 when every cell ran without error.

Why not nbclient or `jupyter nbconvert --execute`: the Deno kernel sometimes reports `idle` before it
sends the cell's last output (about 1 execution in 5), and those clients stop reading at `idle`, so
outputs go missing at random. This runner keeps reading IOPub until it has been quiet for GRACE
seconds after `idle`.

Needs only jupyter_client (Debian: jupyter-client / python3-jupyter-client) and the kernelspec
(`deno jupyter --install`).
"""

import argparse
import json
import os
import queue
import sys
import time

from jupyter_client.manager import KernelManager

OUTPUT_TYPES = ("display_data", "execute_result", "update_display_data")


def run_cell(kc, source, timeout, grace):
    """Executes one cell; returns (status, execution_count, outputs)."""
    msg_id = kc.execute(source, store_history=True, allow_stdin=False, stop_on_error=True)
    outputs, count, idle_at = [], None, None
    deadline = time.monotonic() + timeout
    while True:
        # Before idle: wait up to the cell's deadline. After idle: only as long as IOPub stays busy.
        wait = grace if idle_at is not None else deadline - time.monotonic()
        if wait <= 0:
            outputs.append({"output_type": "error", "ename": "Timeout", "evalue": f"cell ran past {timeout} s", "traceback": []})
            return "error", count, outputs
        try:
            msg = kc.get_iopub_msg(timeout=wait)
        except queue.Empty:
            if idle_at is not None:
                break
            continue
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status":
            if content.get("execution_state") == "idle":
                idle_at = time.monotonic()
        elif kind == "stream":
            outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
        elif kind in OUTPUT_TYPES:
            out = {"output_type": "display_data" if kind == "update_display_data" else kind,
                   "data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                out["execution_count"] = content.get("execution_count")
            outputs.append(out)
        elif kind == "error":
            outputs.append({"output_type": "error", "ename": content.get("ename", ""),
                            "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])})
        elif kind == "clear_output":
            outputs.clear()
        elif kind == "execute_input":
            count = content.get("execution_count", count)
    status = "ok"
    # The shell reply says whether the cell raised even when no error message reached IOPub.
    try:
        while True:
            reply = kc.get_shell_msg(timeout=max(1.0, grace))
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                count = reply["content"].get("execution_count", count)
                if reply["content"].get("status") != "ok":
                    status = "error"
                break
    except queue.Empty:
        status = "error"
        outputs.append({"output_type": "error", "ename": "NoReply", "evalue": "the kernel sent no execute_reply", "traceback": []})
    if any(o["output_type"] == "error" for o in outputs):
        status = "error"
    return status, count, outputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("--kernel", default=None, help="kernelspec name (default: the notebook's own)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    ap.add_argument("--grace", type=float, default=0.5, help="seconds of IOPub silence awaited after idle")
    ap.add_argument("--output", help="write the executed notebook here")
    ap.add_argument("--kernel-stderr", help="write the kernel process's own stderr here")
    args = ap.parse_args()

    path = os.path.abspath(args.notebook)
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    kernel = args.kernel or nb.get("metadata", {}).get("kernelspec", {}).get("name", "python3")
    km = KernelManager(kernel_name=kernel)
    stderr = open(args.kernel_stderr, "w", encoding="utf-8") if args.kernel_stderr else None
    # Jupyter starts a notebook's kernel in the notebook's folder; relative paths in cells rely on it.
    km.start_kernel(cwd=os.path.dirname(path), **({"stderr": stderr} if stderr else {}))
    report = {"kernel": kernel, "ok": True, "cells": []}
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        for i, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            t0 = time.monotonic()
            status, count, outputs = run_cell(kc, source, args.timeout, args.grace)
            report["cells"].append({"index": i, "status": status, "execution_count": count,
                                    "seconds": round(time.monotonic() - t0, 3), "outputs": outputs})
            cell["outputs"], cell["execution_count"] = outputs, count
            if status != "ok":
                report["ok"] = False
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        if stderr:
            stderr.close()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(nb, f, indent=1, ensure_ascii=False)
            f.write("\n")
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
