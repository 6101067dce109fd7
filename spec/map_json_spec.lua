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

  it("refuses a table whose metatable gives it entries it does not store, naming the path", function()
    local data = { city = "Oslo", temp = 12 }
    assert.has_error(function() core.json_encode { w = setmetatable({}, { __index = data }) } end)
    local ok, err = pcall(core.json_encode, { w = setmetatable({}, { __index = data }) })
    assert.is_false(ok)
    assert.matches("^w: its metatable's __index gives it entries not stored in it %('%a+'%): "
      .. "give it __pairs, or copy it into a plain table$", err)
    -- a list proxy, by __len or by __index alone
    ok, err = pcall(core.json_encode, setmetatable({}, { __index = { 1, 2, 3 }, __len = function() return 3 end }))
    assert.equal("its metatable's __len gives it 3 entries, 0 stored: give it __pairs, or copy it "
      .. "into a plain table", err)
    ok, err = pcall(core.json_encode, { l = { setmetatable({ 1 }, { __index = { 1, 2 } }) } })
    assert.equal("l[1]: its metatable's __index gives it entries not stored in it (number key): "
      .. "give it __pairs, or copy it into a plain table", err)
    -- a function __index over nothing stored: a proxy whose entries cannot be listed
    ok, err = pcall(core.json_encode, { p = setmetatable({}, { __index = function(_, k) return data[k] end }) })
    assert.equal("p: it stores nothing and its metatable's __index is a function (a proxy): give it "
      .. "__pairs, or copy it into a plain table", err)
    -- a strict table (an __index that raises for a key it lacks) that stores nothing is {}
    local strict = { __index = function(_, k) error("strict: no field " .. tostring(k)) end }
    assert.equal('{"s":{}}', core.json_encode { s = setmetatable({}, strict) })
    -- defaults given by a parent table are data the table does not store
    ok = pcall(core.json_encode, setmetatable({ city = "Rome" }, { __index = data }))
    assert.is_false(ok)
  end)

  it("quotes the key a proxy gives as other errors quote names: escaped, cut before a character", function()
    local ok, err = pcall(core.json_encode,
      { w = setmetatable({ a = 1 }, { __index = { ["bad\1\27[31mkey\255"] = 1 } }) })
    assert.is_false(ok)
    assert.equal("w: its metatable's __index gives it entries not stored in it ('bad\\x01\\x1b[31mkey"
      .. "\\xff'): give it __pairs, or copy it into a plain table", err)
    -- 39 bytes, then a two-byte character across the 40-byte bound: cut before it
    ok, err = pcall(core.json_encode,
      setmetatable({ a = 1 }, { __index = { [string.rep("a", 39) .. "\u{e9}"] = 1 } }))
    assert.is_false(ok)
    assert.equal("its metatable's __index gives it entries not stored in it ('" .. string.rep("a", 39)
      .. "'...): give it __pairs, or copy it into a plain table", err)
    assert.is_truthy(utf8.len(err))
  end)

  it("names the path when a __len raises or gives a length that is not an integer", function()
    local function boom() error("boom", 0) end
    local ok, err = pcall(core.json_encode, { items = setmetatable({ 1, 2 }, { __len = boom }) })
    assert.is_false(ok)
    assert.equal("items: its metatable's __len raised an error ('boom')", err)
    ok, err = pcall(core.json_encode, { items = setmetatable({ 1, 2 }, { __len = function() return 2.5 end }) })
    assert.is_false(ok)
    assert.equal("items: its metatable's __len gives a length that is not an integer (2.5)", err)
    ok, err = pcall(core.json_encode, { items = setmetatable({ 1, 2 }, { __len = function() return {} end }) })
    assert.is_false(ok)
    assert.equal("items: its metatable's __len gives a length that is not an integer (a table)", err)
    assert.equal('{"items":[1,2]}', core.json_encode { items = setmetatable({ 1, 2 }, { __len = function() return 2.0 end }) })
  end)

  it("names the path when a __pairs or the iterator it gives raises", function()
    local function boom() error("boom", 0) end
    local ok, err = pcall(core.json_encode, { w = { setmetatable({}, { __pairs = boom }) } })
    assert.is_false(ok)
    assert.equal("w[1]: its metatable's __pairs raised an error ('boom')", err)
    local function after_one(t, k) if k == nil then return "a", 1 end error({ code = 1 }) end
    ok, err = pcall(core.json_encode, { w = setmetatable({}, { __pairs = function(t) return after_one, t, nil end }) })
    assert.is_false(ok)
    assert.equal("w: its metatable's __pairs iterator raised an error (table)", err)
  end)

  it("encodes a table whose metatable adds no data as it stores it", function()
    -- other metamethods, a class's methods and "__" names, a strict table's __index
    -- function, a __len that agrees, and __pairs, which shows what it holds
    local Class = { __name = "Point", __tostring = function() return "P" end }
    Class.__index = Class
    function Class.norm(p) return p.x + p.y end
    local sub = setmetatable({ move = function() end }, { __index = Class })
    sub.__index = sub
    local cases = {
      { '{"x":1}', setmetatable({ x = 1 }, { __tostring = function() return "x" end, __name = "X" }) },
      { '{"x":1}', setmetatable({ x = 1 }, { __close = function() end }) },
      { '{"x":1,"y":2}', setmetatable({ x = 1, y = 2 }, Class) },
      { '{"x":1}', setmetatable({ x = 1 }, sub) },
      { '{"x":1}', setmetatable({ x = 1 }, { __index = function(_, k) error("no field " .. k) end }) },
      { '[1,2]', setmetatable({ 1, 2 }, { __len = function() return 2 end }) },
      { '{"a":1}', setmetatable({}, { __index = { a = 1 }, __pairs = function() return next, { a = 1 }, nil end }) },
      { '[]', core.json_array() },
    }
    for i, c in ipairs(cases) do
      local json = core.json_encode(c[2])
      if c[1]:sub(1, 1) == "{" and #c[1] > 8 then
        assert.same(cjson.decode(c[1]), cjson.decode(json), "case " .. i)
      else
        assert.equal(c[1], json, "case " .. i)
      end
    end
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

  it("reads a number beyond a double's range as the largest double, which encodes back", function()
    local v = assert(core.json_decode('[1e999,-1e400,1e-999,{"n":2e308}]'))
    assert.equal(1.7976931348623157e308, v[1])
    assert.equal(-1.7976931348623157e308, v[2])
    assert.equal(0, v[3])
    assert.equal(1.7976931348623157e308, v[4].n)
    local text = core.json_encode(v)
    assert.same(v, core.json_decode(text))
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
