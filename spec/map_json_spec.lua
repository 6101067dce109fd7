-- The JSON helpers under the mapping: core.json_encode / json_decode / json_array.
local core = require "realtime.core"
local cjson = require "cjson"

local function nest(n)
  local root = {}
  local t = root
  for _ = 2, n do t.x = {}; t = t.x end
  return root
end

describe("core.json_encode", function()
  it("writes integers exactly and floats in the shortest form that reads back", function()
    assert.equal("[9223372036854775807,-9223372036854775808,0.1,1e+300,3]",
      core.json_encode { math.maxinteger, math.mininteger, 0.1, 1e300, 3.0 })
    assert.equal("0.30000000000000004", core.json_encode(0.1 + 0.2))
  end)

  it("does not depend on the C locale's decimal point", function()
    local old = os.setlocale(nil, "numeric")
    local ok = os.setlocale("de_DE.UTF-8", "numeric") or os.setlocale("fr_FR.UTF-8", "numeric")
    local s = core.json_encode { 1.5 }
    os.setlocale(old, "numeric")
    assert.equal("[1.5]", s)
    if not ok then print("\n# no comma locale installed: checked in the C locale only") end
  end)

  it("escapes what JSON needs and nothing more", function()
    assert.equal('"a\\"b\\\\c\\n\\u0001/é"', core.json_encode("a\"b\\c\n\1/é"))
  end)

  it("empty tables are objects unless marked as arrays", function()
    local s = core.json_encode { a = {}, b = core.json_array() }
    assert.truthy(s == '{"a":{},"b":[]}' or s == '{"b":[],"a":{}}', s)
    local t = core.json_array {}
    assert.equal(t, core.json_array(t))
    assert.equal("[]", core.json_encode(t))
    t[1] = 1
    assert.equal("[1]", core.json_encode(t))
  end)

  it("cjson.null is null", function()
    assert.equal("[null]", core.json_encode { cjson.null })
    assert.equal(cjson.null, core.json_null)
  end)

  it("refuses what JSON cannot hold, naming the path", function()
    assert.has_error(function() core.json_encode { a = { 0 / 0 } } end, "a[1]: cannot encode NaN")
    assert.has_error(function() core.json_encode { a = math.huge } end, "a: cannot encode an infinite number")
    assert.has_error(function() core.json_encode { f = print } end, "f: cannot encode a function")
    assert.has_error(function() core.json_encode { 1, x = 2 } end,
      "cannot encode a table with mixed or non-string keys (or holes)")
    assert.has_error(function() core.json_encode { [1] = 1, [3] = 3 } end)
    assert.has_error(function() core.json_encode { k = "\xed\xa0\x80" } end, "k: invalid UTF-8 in string")
    assert.has_error(function() core.json_encode { ["\xff"] = 1 } end)
  end)

  it("limits nesting to 64 by default, and catches cycles", function()
    core.json_encode(nest(64))
    assert.has_error(function() core.json_encode(nest(65)) end)
    local loop = {}
    loop.self = loop
    assert.has_error(function() core.json_encode(loop) end)
    core.json_encode(nest(100), 128)
  end)
end)

describe("core.json_decode", function()
  it("turns integral numbers into integers, keeps fractions", function()
    local v = core.json_decode('{"a":3,"b":[1.0,2.5],"c":-0,"d":1e3}')
    assert.equal("integer", math.type(v.a))
    assert.equal("integer", math.type(v.b[1]))
    assert.equal("float", math.type(v.b[2]))
    assert.equal("integer", math.type(v.d))
    assert.equal(7, core.json_decode("7"))
    assert.equal("integer", math.type(core.json_decode("7")))
  end)

  it("returns nil and a message on malformed JSON or nesting deeper than 64", function()
    local v, err = core.json_decode("{")
    assert.is_nil(v)
    assert.is_string(err)
    v, err = core.json_decode(string.rep("[", 65) .. string.rep("]", 65))
    assert.is_nil(v)
    assert.equal("JSON nests deeper than 64 levels", err)
    assert.is_table(core.json_decode(string.rep("[", 64) .. string.rep("]", 64)))
  end)

  it("leaves the user's cjson settings alone", function()
    assert.equal(1000, cjson.decode_max_depth())
  end)
end)
