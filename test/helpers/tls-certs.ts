import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A self-signed CA (P-256) valid for two days. */
export function makeCa(dir: string, name: string): CertFiles {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl(["req", "-x509", ...EC_KEY, "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  return { certFile, keyFile };
}

/** A certificate for `cn` issued by `ca`: a server one (for 127.0.0.1 and localhost) or a client one. */
export function issueCert(dir: string, ca: CertFiles, cn: string, kind: "server" | "client"): CertFiles {
  const base = path.join(dir, `${path.basename(ca.certFile, ".crt")}-${kind}-${cn}`);
  const ext = `${base}.ext`;
  writeFileSync(
    ext,
    kind === "server" ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" : "extendedKeyUsage=clientAuth\n",
  );
  openssl(["req", ...EC_KEY, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn}`]);
  openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "2", "-out", `${base}.crt`, "-extfile", ext]);
  return { certFile: `${base}.crt`, keyFile: `${base}.key` };
}
