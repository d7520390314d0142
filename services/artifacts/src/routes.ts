import { ArtifactService } from "@agentlab/api";
import type { ConnectRouter } from "@connectrpc/connect";
import type { ArtifactsDeps, GuestArtifactsDeps } from "./artifacts-deps.js";
import { createDeleteHandler } from "./delete-handler.js";
import { createDownloadHandler } from "./download-handler.js";
import { createUploadHandler } from "./upload-handler.js";

export { httpUploadRoute } from "./http-upload-route.js";

/**
 * All of ArtifactService, for the artifacts Unix socket: access there is the socket's file mode, so
 * no guard runs.
 */
export function artifactRoutes(deps: ArtifactsDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.service(ArtifactService, {
      uploadArtifact: createUploadHandler(deps),
      downloadArtifact: createDownloadHandler(deps),
      deleteArtifacts: createDeleteHandler(deps),
    });
  };
}

/**
 * UploadArtifact only, guarded, for the guest listener. DownloadArtifact and DeleteArtifacts are not
 * registered at all, so a guest asking for them gets UNIMPLEMENTED / 404 from the router itself
 * rather than from a check someone could forget.
 */
export function guestArtifactRoutes(deps: GuestArtifactsDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.rpc(ArtifactService.method.uploadArtifact, createUploadHandler(deps, deps.guard));
  };
}
