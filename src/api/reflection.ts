import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/** Written by `buf build` at install (npm run gen) from proto/. */
const DESCRIPTOR_SET = fileURLToPath(new URL("../gen/descriptor.binpb", import.meta.url));

/** The FileDescriptorProto bytes inside a FileDescriptorSet (field 1, repeated). */
function splitDescriptorSet(bytes: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(bytes);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

/**
 * Server reflection fed with the exact descriptors buf compiled, so that
 * clients such as grpcurl, `buf curl` or grpcio's reflection client can call
 * the node without the .proto files.
 */
export function createReflection(serviceNames: string[]): ReflectionService {
  const files = splitDescriptorSet(readFileSync(DESCRIPTOR_SET));
  const pkg = Object.fromEntries(serviceNames.map((name) => [name, { fileDescriptorProtos: files }])) as unknown as PackageDefinition;
  return new ReflectionService(pkg, { services: serviceNames });
}
