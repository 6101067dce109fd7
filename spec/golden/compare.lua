-- Deep comparison of decoded JSON values for the mapping specs: key order never
-- matters (objects are Lua tables), integers and integral floats compare equal, and
-- cjson.null equals cjson.null. Returns true, or false and the path of the first
-- difference with both values.
local M = {}

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function same(a, b, path)
  if type(a) == "number" and type(b) == "number" then
    if a == b then return true end
    return false, path .. ": " .. show(a) .. " ~= " .. show(b)
  end
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " " .. show(a) .. " ~= " .. type(b) .. " " .. show(b)
  end
  if type(a) ~= "table" then
    if a == b then return true end
    return false, path .. ": " .. show(a) .. " ~= " .. show(b)
  end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k, v in pairs(b) do
    if a[k] == nil then
      return false, path .. "." .. tostring(k) .. ": missing (want " .. show(v) .. ")"
    end
  end
  return true
end

function M.same(a, b) return same(a, b, "$") end

-- A busted-friendly assertion: fails with the path of the difference.
function M.assert_same(got, want, label)
  local ok, why = same(got, want, "$")
  if not ok then error((label and label .. ": " or "") .. why, 2) end
end

return M
