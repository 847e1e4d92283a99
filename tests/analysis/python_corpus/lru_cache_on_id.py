# FastAPI: a profile cache with no bound, keyed by user id (one entry per user, forever).
# expect: growth function=load_profile line=10 variable=load_profile
import functools

from fastapi import FastAPI

api = FastAPI()


@functools.cache
def load_profile(user_id: int) -> bytes:
    return b"profile:" + str(user_id).encode() * 512


@api.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, int]:
    return {"size": len(load_profile(user_id))}
