/**
 * The lightest client that speaks control's API: Connect-protocol unary calls (binary protobuf
 * over HTTP/2) sent with node:http2 on one session. A load generator shares the cores it measures,
 * and Connect-ES's client — async generators, web Headers, an AbortSignal per call — costs about
 * as much CPU per call as the server answering it; this costs a fraction. Only what the
 * benchmarks need: unary calls, errors as the Connect JSON envelope's code and message.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";

export interface ConnectUnaryClient {
  call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    input: MessageInitShape<I>,
  ): Promise<MessageShape<O>>;
  close(): Promise<void>;
}

export function connectUnaryClient(socketPath: string): ConnectUnaryClient {
  const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
  session.on("error", () => {}); // each call's stream reports its own failure
  return {
    call(method, input) {
      const body = toBinary(method.input, create(method.input, input));
      return new Promise((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": `/${method.parent.typeName}/${method.name}`,
          "content-type": "application/proto",
          "connect-protocol-version": "1",
        });
        let status = 0;
        const chunks: Buffer[] = [];
        stream.on("response", (headers) => {
          status = Number(headers[":status"]);
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", reject);
        stream.on("end", () => {
          const answer = Buffer.concat(chunks);
          if (status === 200) {
            resolve(fromBinary(method.output, answer));
            return;
          }
          let detail = answer.toString("utf8");
          try {
            const { code, message } = JSON.parse(detail) as { code?: string; message?: string };
            detail = `${code ?? "unknown"}: ${message ?? ""}`;
          } catch {
            // not the JSON envelope: keep the text
          }
          reject(new Error(`${method.parent.typeName}/${method.name} failed (HTTP ${status}) ${detail}`));
        });
        stream.end(body);
      });
    },
    close() {
      return new Promise((resolve) => session.close(() => resolve()));
    },
  };
}
