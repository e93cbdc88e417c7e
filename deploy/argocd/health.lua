-- Argo CD health check for evidently.launch-operator.io Project, Feature, Segment and Launch.
-- Healthy: the resource exists in Evidently and matches the spec (Ready=True).
-- Progressing: the operator has not caught up yet, or it is retrying a transient failure
--   (a dependency that GitOps may still create, Evidently unavailable, a deletion waiting for
--   the resources that use this one).
-- Degraded: a failure that needs a person (invalid spec, rejected by Evidently, name taken,
--   access denied, quota, launch already ended).
local hs = { status = "Progressing", message = "Waiting for the launch-operator" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.message = "Waiting for the launch-operator to process generation " .. generation
  return hs
end
local transient = { DependencyNotFound = true, EvidentlyUnavailable = true, DeletionBlocked = true }
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    local message = condition.message or ""
    if condition.status == "True" then
      hs.status = "Healthy"
      hs.message = message
    elseif transient[condition.reason] then
      hs.status = "Progressing"
      hs.message = condition.reason .. ": " .. message
    else
      hs.status = "Degraded"
      hs.message = (condition.reason or "NotReady") .. ": " .. message
    end
    return hs
  end
end
return hs
