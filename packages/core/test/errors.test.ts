import { Health } from "@agentlab/api/gen/grpc/health/v1/health_pb";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  AlreadyExistsError,
  ConflictError,
  createErrorMappingInterceptor,
  DeadlineExceededError,
  FailedPreconditionError,
  GENERIC_INTERNAL_MESSAGE,
  httpStatusFor,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  toConnectError,
  UnauthenticatedError,
  UnavailableError,
} from "../src/index.js";

describe("toConnectError", () => {
  it.each([
    [new NotFoundError("x"), Code.NotFound, 404],
    [new AlreadyExistsError("x"), Code.AlreadyExists, 409],
    [new InvalidArgumentError("x"), Code.InvalidArgument, 400],
    [new FailedPreconditionError("x"), Code.FailedPrecondition, 409],
    [new ConflictError("x"), Code.Aborted, 409],
    [new PermissionDeniedError("x"), Code.PermissionDenied, 403],
    [new UnauthenticatedError("x"), Code.Unauthenticated, 401],
    [new ResourceExhaustedError({ message: "x" }), Code.ResourceExhausted, 429],
    [new UnavailableError("x"), Code.Unavailable, 503],
    [new DeadlineExceededError("x"), Code.DeadlineExceeded, 504],
    [new InternalError("x"), Code.Internal, 500],
  ])("maps %o to one code and one status", (err, code, status) => {
    expect(toConnectError(err).code).toBe(code);
    expect(httpStatusFor(err).status).toBe(status);
  });

  it("keeps what failed, the value and the hint", () => {
    const err = new FailedPreconditionError({
      message: "sandbox 1001 cannot be started",
      what: "state",
      value: "DESTROYED",
      hint: "create a new sandbox",
    });
    expect(toConnectError(err).rawMessage).toBe(
      'sandbox 1001 cannot be started (state: "DESTROYED"); create a new sandbox',
    );
  });

  it("hides unknown errors and internal errors behind a generic message", () => {
    const leaky = new Error("SQLITE_ERROR near token=abcd1234");
    for (const err of [leaky, new InternalError("db path /var/lib/agentlab broke"), "a string"]) {
      const mapped = toConnectError(err);
      expect(mapped.code).toBe(Code.Internal);
      expect(mapped.rawMessage).toBe(GENERIC_INTERNAL_MESSAGE);
      expect(JSON.stringify(httpStatusFor(err).body)).not.toMatch(/abcd1234|\/var\/lib/);
    }
  });

  it("passes ConnectErrors through and sets Retry-After for exhausted resources", () => {
    const original = new ConnectError("slow down", Code.Unavailable);
    expect(toConnectError(original)).toBe(original);
    // Relayed from a peer: the peer's response headers must not become our trailers.
    const relayed = new ConnectError(
      "VM 101 not found",
      Code.NotFound,
      new Headers({ "content-type": "application/grpc", "retry-after": "2" }),
    );
    const mapped = toConnectError(relayed);
    expect(mapped.code).toBe(Code.NotFound);
    expect(mapped.rawMessage).toBe("VM 101 not found");
    expect([...mapped.metadata.keys()]).toEqual(["retry-after"]);
    const limited = httpStatusFor(new ResourceExhaustedError({ message: "rate limited", retryAfterSeconds: 1 }));
    expect(limited).toMatchObject({
      status: 429,
      headers: { "retry-after": "1" },
      body: { code: "resource_exhausted" },
    });
  });
});

describe("createErrorMappingInterceptor", () => {
  it("turns domain errors thrown by handlers into their codes on the wire", async () => {
    const transport = createRouterTransport(
      (router) => {
        router.service(Health, {
          check(req) {
            if (req.service === "boom") throw new Error("secret internals");
            throw new NotFoundError({ message: "no such service", what: "service", value: req.service });
          },
        });
      },
      { router: { interceptors: [createErrorMappingInterceptor()] } },
    );
    const client = createClient(Health, transport);
    await expect(client.check({ service: "x.Y" })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(client.check({ service: "boom" })).rejects.toMatchObject({
      code: Code.Internal,
      rawMessage: GENERIC_INTERNAL_MESSAGE,
    });
  });
});
