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

  -- The decode reads with the core's reader and leaves to cjson only what that reader
  -- does not take; either way the values are the ones cjson makes (integral numbers as
  -- integers).
  local function normalized(v)
    if type(v) == "table" then
      local t = {}
      for k, x in pairs(v) do t[k] = normalized(x) end
      return t
    elseif math.type(v) == "float" and v == math.floor(v) and v >= math.mininteger
        and v < -(math.mininteger + 0.0) then
      return math.tointeger(v)
    end
    return v
  end

  it("makes the values cjson makes, strings and numbers exact", function()
    local texts = {
      '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"'
        .. string.rep("AAEC", 640) .. '"}}]}}}',
      '{"a":"\\u00e9\\n\\"q\\" \\ud83d\\ude00 \\u0000 \\/","b\\u0041":[true,false,null,{}],"c":[]}',
      '{"n":[0,-0,0.7,-0.1,1e-7,2.5e300,123456789012345,1234567890123456,-9007199254740992,1E2,3.0e0]}',
      '{"k":1,"k":2,"nested":[[[["deep"]]]],"s":"tab\there ctl\1"}',
      '  [1, 2 ,3 ]  ',
      '"just a string"',
      '12.5',
    }
    local private = cjson.new()
    for _, text in ipairs(texts) do
      assert.same(normalized(private.decode(text)), core.json_decode(text), text)
    end
    local v = core.json_decode('{"x":0.7,"y":1e-7,"z":-123.456e-2}')
    assert.equal(0.7, v.x)
    assert.equal(1e-7, v.y)
    assert.equal(-1.23456, v.z)
    -- beyond 2^53 cjson rounds through a double; integers within int64 stay exact
    assert.equal(math.tointeger(-9007199254740993), core.json_decode('{"n":-9007199254740993}').n)
    assert.equal(core.json_null, core.json_decode("[null]")[1])
  end)

  it("refuses malformed texts, and reads what only cjson reads as cjson does", function()
    for _, text in ipairs { "", "{", '{"a":}', '{"a":1,}', "[1 2]", '"\\x"', '"\\ud800"',
                            "{} x", "01", "-", "1.", ".5", "tru", "0x10", "[1e]" } do
      local private = cjson.new()
      private.decode_max_depth(200)
      private.decode_invalid_numbers(false)   -- as the library's own instance
      local ok, want = pcall(private.decode, text)
      local v, err = core.json_decode(text)
      if ok then
        assert.same(normalized(want), v, text)
      else
        assert.is_nil(v, text)
        assert.is_string(err, text)
      end
    end
    assert.is_nil(core.json_decode('{"a":}'))
    -- nesting the core's reader leaves to cjson still decodes up to the limit
    local deep = string.rep('{"x":', 63) .. "1" .. string.rep("}", 63)
    local v = core.json_decode(deep)
    for _ = 1, 62 do v = v.x end
    assert.equal(1, v.x)
  end)

  it("leaves the user's cjson settings alone", function()
    assert.equal(1000, cjson.decode_max_depth())
  end)
end)
