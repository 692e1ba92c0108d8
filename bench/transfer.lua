-- wrk script: POST credit transfers of 1 credit from the token's user to bob, spread round-robin over CHATS chats
-- (ids printf('%024x', 100 + i) as seeded by bench/run.sh). TOKEN is the payer's JWT (carol).
local token = os.getenv("TOKEN")
local count = tonumber(os.getenv("CHATS") or "1")
local chats = {}
for i = 1, count do chats[i] = string.format("%024x", 100 + i) end
local n = 0
request = function()
  n = n + 1
  local body = '{"chatId":"' .. chats[(n % count) + 1] .. '","recipientId":"bob","amount":1}'
  return wrk.format("POST", "/api/v1/messages/credit-transfer",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end
