#!/usr/bin/env python3
"""An independent gRPC client that knows nothing of CreditMesh's .proto files.

It learns the node's API from server reflection only:

  1. lists the services over reflection v1 and v1alpha;
  2. fetches the file descriptors of creditmesh.v1.CreditNode (file_containing_symbol,
     then file_by_filename for any import not yet sent), builds a descriptor pool and
     calls GetNodeStatus with dynamically built message classes, with the API key and
     without it;
  3. does the same for grpc.health.v1.Health and calls Check (and List if offered).

Only the reflection protocol itself is compiled (from the reflection.proto files given
with --reflection-protos) into a temporary directory at run time. Prints one JSON object
on stdout; exits 0 when every step worked, 1 otherwise (the JSON still says what failed).

Usage: reflection_client.py --address HOST:PORT --api-key KEY --reflection-protos DIR
"""

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import traceback

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

CREDIT_SERVICE = "creditmesh.v1.CreditNode"
HEALTH_SERVICE = "grpc.health.v1.Health"
TIMEOUT_S = 10.0


def compile_reflection_stubs(proto_root, out_dir):
    """Compiles grpc/reflection/{v1,v1alpha}/reflection.proto into out_dir and imports them."""
    from grpc_tools import protoc

    stubs = {}
    for version in ("v1", "v1alpha"):
        rel = f"grpc/reflection/{version}/reflection.proto"
        if not os.path.exists(os.path.join(proto_root, rel)):
            raise FileNotFoundError(os.path.join(proto_root, rel))
        rc = protoc.main(["grpc_tools.protoc", f"-I{proto_root}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", rel])
        if rc != 0:
            raise RuntimeError(f"protoc failed on {rel} with status {rc}")
    # protoc writes grpc/reflection/<v>/reflection_pb2.py; make the folders importable packages
    # under a private top-level name so they cannot clash with an installed 'grpc' package.
    pkg_root = os.path.join(out_dir, "reflection_stubs")
    os.makedirs(pkg_root, exist_ok=True)
    open(os.path.join(pkg_root, "__init__.py"), "w").close()
    for version in ("v1", "v1alpha"):
        src = os.path.join(out_dir, "grpc", "reflection", version)
        dst = os.path.join(pkg_root, version)
        shutil.copytree(src, dst)
        open(os.path.join(dst, "__init__.py"), "w").close()
        # The generated *_pb2_grpc module imports "grpc.reflection.<v>.reflection_pb2"; point it at ours.
        grpc_mod = os.path.join(dst, "reflection_pb2_grpc.py")
        with open(grpc_mod) as f:
            text = f.read()
        text = text.replace(f"from grpc.reflection.{version} import reflection_pb2", f"from reflection_stubs.{version} import reflection_pb2")
        with open(grpc_mod, "w") as f:
            f.write(text)
    sys.path.insert(0, out_dir)
    for version in ("v1", "v1alpha"):
        stubs[version] = (
            importlib.import_module(f"reflection_stubs.{version}.reflection_pb2"),
            importlib.import_module(f"reflection_stubs.{version}.reflection_pb2_grpc"),
        )
    return stubs


class ReflectionClient:
    """One reflection protocol version over a channel; each query is its own short stream."""

    def __init__(self, channel, pb2, pb2_grpc):
        self.pb2 = pb2
        self.stub = pb2_grpc.ServerReflectionStub(channel)

    def _ask(self, **fields):
        request = self.pb2.ServerReflectionRequest(host="", **fields)
        responses = list(self.stub.ServerReflectionInfo(iter([request]), timeout=TIMEOUT_S))
        if len(responses) != 1:
            raise RuntimeError(f"expected one reflection response, got {len(responses)}")
        response = responses[0]
        if response.HasField("error_response"):
            err = response.error_response
            raise LookupError(f"reflection error {err.error_code}: {err.error_message}")
        return response

    def list_services(self):
        return [s.name for s in self._ask(list_services="*").list_services_response.service]

    def file_containing_symbol(self, symbol):
        return list(self._ask(file_containing_symbol=symbol).file_descriptor_response.file_descriptor_proto)

    def file_by_filename(self, name):
        return list(self._ask(file_by_filename=name).file_descriptor_response.file_descriptor_proto)


class DynamicPool:
    """A descriptor pool filled only from what reflection sends, imports resolved on demand."""

    def __init__(self, reflection):
        self.reflection = reflection
        self.pool = descriptor_pool.DescriptorPool()
        self.protos = {}  # file name -> FileDescriptorProto, as received
        self.added = set()
        self.fetched_by_filename = []

    def _take(self, blobs):
        for blob in blobs:
            fdp = descriptor_pb2.FileDescriptorProto()
            fdp.ParseFromString(blob)
            self.protos.setdefault(fdp.name, fdp)

    def _add(self, name, stack=()):
        if name in self.added:
            return
        if name in stack:
            raise RuntimeError(f"import cycle through {name}")
        if name not in self.protos:
            # An import the server did not send along: ask for it by file name.
            self.fetched_by_filename.append(name)
            self._take(self.reflection.file_by_filename(name))
            if name not in self.protos:
                raise LookupError(f"server did not return {name} for file_by_filename")
        fdp = self.protos[name]
        for dep in fdp.dependency:
            self._add(dep, stack + (name,))
        self.pool.Add(fdp)
        self.added.add(name)

    def load_symbol(self, symbol):
        blobs = self.reflection.file_containing_symbol(symbol)
        self._take(blobs)
        first = descriptor_pb2.FileDescriptorProto()
        first.ParseFromString(blobs[0])
        self._add(first.name)
        return self.pool.FindServiceByName(symbol)

    def message_class(self, descriptor):
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(descriptor)
        return message_factory.MessageFactory(self.pool).GetPrototype(descriptor)


def unary(channel, pool, method, request_fields=None, metadata=None):
    """Calls one unary method known only by its descriptor; returns (response message, classes)."""
    request_cls = pool.message_class(method.input_type)
    response_cls = pool.message_class(method.output_type)
    call = channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_cls.FromString,
    )
    return call(request_cls(**(request_fields or {})), metadata=metadata, timeout=TIMEOUT_S)


def to_json(message):
    try:
        return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    except TypeError:  # protobuf < 5.26
        return json_format.MessageToDict(message, including_default_value_fields=True)


def call_status(fn):
    """Runs a call expected to fail and reports its status code name ('OK' if it did not fail)."""
    try:
        fn()
        return {"code": "OK"}
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--reflection-protos", required=True, help="directory holding grpc/reflection/{v1,v1alpha}/reflection.proto")
    args = parser.parse_args()

    out = {"address": args.address, "reflection": {}, "errors": []}
    ok = True
    workdir = tempfile.mkdtemp(prefix="cm-reflection-")
    channel = grpc.insecure_channel(args.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
        stubs = compile_reflection_stubs(args.reflection_protos, workdir)

        # 1. List services with both protocol versions.
        clients = {}
        for version in ("v1", "v1alpha"):
            client = ReflectionClient(channel, *stubs[version])
            try:
                out["reflection"][version] = {"ok": True, "services": sorted(client.list_services())}
                clients[version] = client
            except (grpc.RpcError, LookupError, RuntimeError) as e:
                code = e.code().name if isinstance(e, grpc.RpcError) else None
                out["reflection"][version] = {"ok": False, "code": code, "error": str(e)}
        if not clients:
            raise RuntimeError("no reflection protocol version answered")
        out["services"] = out["reflection"].get("v1", out["reflection"].get("v1alpha"))["services"]
        version = "v1" if "v1" in clients else "v1alpha"
        out["descriptors_via"] = version

        # 2. CreditNode: descriptors from reflection only, then GetNodeStatus dynamically.
        pool = DynamicPool(clients[version])
        service = pool.load_symbol(CREDIT_SERVICE)
        out["credit_methods"] = [m.name for m in service.methods]
        method = service.methods_by_name["GetNodeStatus"]
        authorized = [("authorization", f"Bearer {args.api_key}")]
        out["node_status"] = to_json(unary(channel, pool, method, metadata=authorized))
        out["without_key"] = call_status(lambda: unary(channel, pool, method))
        out["unknown_key"] = call_status(lambda: unary(channel, pool, method, metadata=[("authorization", "Bearer cmk_not_a_key")]))

        # 3. Health: also learnt over reflection (no health .proto here).
        health = pool.load_symbol(HEALTH_SERVICE)
        check = health.methods_by_name["Check"]
        status_enum = check.output_type.fields_by_name["status"].enum_type
        out["health"] = {}
        for name in ("", CREDIT_SERVICE):
            response = unary(channel, pool, check, {"service": name})
            out["health"][name or "overall"] = status_enum.values_by_number[response.status].name
        if "List" in health.methods_by_name:
            listed = unary(channel, pool, health.methods_by_name["List"])
            out["health_list"] = {name: status_enum.values_by_number[s.status].name for name, s in listed.statuses.items()}
        out["files"] = sorted(pool.added)
        out["fetched_by_filename"] = pool.fetched_by_filename

        # Every file the server knows of for both services must also be reachable by name.
        for name in sorted(pool.added):
            blobs = clients[version].file_by_filename(name)
            got = descriptor_pb2.FileDescriptorProto()
            got.ParseFromString(blobs[0])
            if got.name != name:
                raise RuntimeError(f"file_by_filename({name}) returned {got.name}")
    except Exception as e:  # report any failure inside the JSON, not as a bare traceback
        ok = False
        out["errors"].append({"type": type(e).__name__, "message": str(e), "trace": traceback.format_exc(limit=5)})
    finally:
        channel.close()
        shutil.rmtree(workdir, ignore_errors=True)

    out["ok"] = ok
    print(json.dumps(out, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
